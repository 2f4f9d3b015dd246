//! Running shell scripts from tests (the OpenSSL recipes of AWS's documentation, key material
//! made outside). Shared by the workspace's end-to-end tests and the crates' own tests, which
//! include this file by path.

use std::path::Path;
use std::process::Command;

/// Runs `script` in `dir` under `set -e`, failing the test with its output if it fails.
pub fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("set -e\n{script}"))
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "script failed ({}):\n{script}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
