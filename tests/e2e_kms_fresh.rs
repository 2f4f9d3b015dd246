//! No stale authorization on the cached KMS request path (issue 16): a key disabled or
//! scheduled for deletion, a key policy changed, a grant created, retired or revoked, an IAM
//! policy changed, an access key deactivated or deleted, an alias moved: each is obeyed by
//! the very next request after the change is acknowledged. Each change follows requests that
//! fill every cache on the path, and is repeated, so that a cache with a time-to-live fails
//! (`tests/py/kms_fresh.py`, boto3 against the real server).

mod common;

use common::Server;

#[test]
fn every_change_is_obeyed_by_the_next_request() {
    let s = Server::start();
    let out = s.python("kms_fresh.py", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "kms_fresh.py failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
