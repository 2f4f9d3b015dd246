//! `ferrogate images load|ls|rm` on real archives built from Debian's busybox-static.

mod common;

use std::path::Path;
use std::process::Command;

fn ferrogate(data: &Path, args: &[&str]) -> std::process::Output {
    let (sub, rest) = args.split_first().unwrap();
    Command::new(env!("CARGO_BIN_EXE_ferrogate"))
        .args(["images", sub, "--data-dir"])
        .arg(data)
        .args(rest)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build(archive: &Path, tag: &str) {
    let script = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/py/mkimage.py");
    assert!(
        Path::new("/bin/busybox").exists(),
        "busybox-static is not installed: run .ci/run"
    );
    ok(&Command::new("python3")
        .arg(script)
        .arg(archive)
        .arg(tag)
        .output()
        .unwrap());
}

#[test]
fn load_list_and_remove_while_the_server_runs() {
    let s = common::Server::start();
    let data = s.data_dir();
    let archive = s.dir.path().join("busybox.tar");
    build(&archive, "busybox:latest");
    let out = ok(&ferrogate(
        &data,
        &[
            "load",
            "--tag",
            "public.ecr.aws/docker/library/busybox:latest",
            archive.to_str().unwrap(),
        ],
    ));
    assert!(
        out.contains("docker.io/library/busybox:latest")
            && out.contains("public.ecr.aws/docker/library/busybox:latest"),
        "{out}"
    );
    let ls = ok(&ferrogate(&data, &["ls"]));
    assert!(
        ls.contains("docker.io/library/busybox:latest")
            && ls.contains("public.ecr.aws/docker/library/busybox:latest"),
        "{ls}"
    );
    // Loading the same archive again is idempotent.
    ok(&ferrogate(&data, &["load", archive.to_str().unwrap()]));
    ok(&ferrogate(&data, &["rm", "busybox"]));
    let ls = ok(&ferrogate(&data, &["ls"]));
    assert!(
        !ls.contains("docker.io/library/busybox:latest") && ls.contains("public.ecr.aws"),
        "{ls}"
    );
    let out = ok(&ferrogate(
        &data,
        &["rm", "public.ecr.aws/docker/library/busybox:latest"],
    ));
    assert!(out.contains("\"deleted\":\"sha256:"), "{out}");
    // The server was unaffected throughout.
    common::json(&s.aws(&["sts", "get-caller-identity"]));
}

#[test]
fn a_tampered_archive_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let archive = dir.path().join("bb.tar");
    build(&archive, "busybox:latest");
    // Flip one byte inside busybox's contents (well past the tar headers).
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let out = ferrogate(&data, &["load", archive.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("digest"), "{err}");
    let ls = ok(&ferrogate(&data, &["ls"]));
    assert_eq!(ls.lines().count(), 1, "{ls}");
}
