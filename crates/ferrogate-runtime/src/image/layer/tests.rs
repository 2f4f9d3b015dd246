//! Unit tests of the layer unpacker.

use super::*;
use std::os::unix::fs::FileTypeExt;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::sys;

fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let with_modes: Vec<_> = entries
        .iter()
        .map(|(p, k, d, l)| {
            let mode = if *k == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            };
            (*p, *k, mode, *d, *l)
        })
        .collect();
    tar_with(&with_modes)
}

/// (path, kind, mode, data, link target).
type Entry<'a> = (&'a str, tar::EntryType, u32, &'a [u8], Option<&'a str>);

fn tar_with(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, mode, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        // Bypass the builder's own path checks: layers come from others.
        let name = h.as_old_mut().name.as_mut();
        name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A 12-byte tar number: octal, or base-256 when it does not fit.
pub(crate) fn num12(v: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    if v < 8u64.pow(11) {
        out[..11].copy_from_slice(format!("{v:011o}").as_bytes());
    } else {
        out[0] = 0x80;
        out[4..].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// A GNU sparse entry: a file of `real_size` bytes whose only data is
/// `data` (a multiple of 512 bytes) at `offset`.
pub(crate) fn sparse_tar(path: &str, real_size: u64, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_path(path).unwrap();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_700_000_000);
    let g = h.as_gnu_mut().unwrap();
    g.sparse[0].offset = num12(offset);
    g.sparse[0].numbytes = num12(data.len() as u64);
    // The map ends at the file's end, as GNU tar writes it.
    g.sparse[1].offset = num12(real_size);
    g.sparse[1].numbytes = num12(0);
    g.realsize = num12(real_size);
    h.set_cksum();
    b.append(&h, data).unwrap();
    b.into_inner().unwrap()
}

use tar::EntryType as T;

#[test]
fn refuses_parent_dir_and_absolute_paths() {
    for bad in ["../evil", "a/../../evil", "/etc/passwd"] {
        let t = tar_of(&[(bad, T::Regular, b"x", None)]);
        let d = tempfile::tempdir().unwrap();
        let r = unpack_layer(&t[..], d.path(), "l");
        assert!(
            matches!(r, Err(ImageError::UnsafePath { .. })),
            "{bad}: {r:?}"
        );
    }
    assert_eq!(
        safe_relative(Path::new("./a/./b")).unwrap(),
        Some(PathBuf::from("a/b"))
    );
    assert_eq!(safe_relative(Path::new("./")).unwrap(), None);
}

#[test]
fn refuses_writing_through_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    let t = tar_of(&[
        (
            "escape",
            T::Symlink,
            b"",
            Some(outside.path().to_str().unwrap()),
        ),
        ("escape/pwned", T::Regular, b"x", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer(&t[..], d.path(), "l");
    assert!(
        matches!(
            r,
            Err(ImageError::UnsafePath {
                reason: "would be written through a symlink",
                ..
            })
        ),
        "{r:?}"
    );
    assert!(!outside.path().join("pwned").exists());
    // Relative symlink inside the layer: also refused as a write path.
    let t = tar_of(&[
        ("lib", T::Directory, b"", None),
        ("l", T::Symlink, b"", Some("lib")),
        ("l/x", T::Regular, b"x", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    assert!(unpack_layer(&t[..], d.path(), "l").is_err());
}

#[test]
fn hard_links_must_stay_inside() {
    let t = tar_of(&[("h", T::Link, b"", Some("../../etc/passwd"))]);
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(
        unpack_layer(&t[..], d.path(), "l"),
        Err(ImageError::UnsafePath { .. })
    ));
    let t = tar_of(&[
        ("a", T::Regular, b"hello", None),
        ("b", T::Link, b"", Some("./a")),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(fs::read(d.path().join("b")).unwrap(), b"hello");
}

#[test]
fn symlinks_to_anywhere_are_stored_not_followed() {
    let t = tar_of(&[
        ("bin", T::Directory, b"", None),
        ("bin/sh", T::Symlink, b"", Some("/bin/busybox")),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(
        fs::read_link(d.path().join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let t = tar_of(&[
        ("f", T::Regular, b"one", None),
        ("f", T::Symlink, b"", Some("x")),
        ("f", T::Regular, b"two", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(fs::read(d.path().join("f")).unwrap(), b"two");
}

/// Whiteouts need CAP_MKNOD and trusted xattrs: root only.
#[test]
fn whiteouts_become_overlay_format() {
    if !crate::host::test_may_run_as_root("whiteouts_become_overlay_format") {
        return;
    }
    let t = tar_of(&[
        ("etc", T::Directory, b"", None),
        ("etc/.wh.motd", T::Regular, b"", None),
        ("var", T::Directory, b"", None),
        ("var/.wh..wh..opq", T::Regular, b"", None),
        (".wh..wh.plnk", T::Regular, b"", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    let stats = unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(stats.whiteouts, 2);
    let m = fs::symlink_metadata(d.path().join("etc/motd")).unwrap();
    assert!(m.file_type().is_char_device());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(m.rdev(), 0);
    assert_eq!(
        sys::lgetxattr(&d.path().join("var"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!d.path().join(".wh..wh.plnk").exists());
}

/// Found item 1 of issue 19: a directory's deferred mode was applied by
/// path, through the symlink a later entry put in its place.
#[test]
fn a_directory_replaced_by_a_symlink_cannot_redirect_its_mode() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"host file").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(outside.path().join("b")).unwrap();
    fs::set_permissions(outside.path().join("b"), fs::Permissions::from_mode(0o700)).unwrap();
    let v = victim.to_str().unwrap();
    let o = outside.path().to_str().unwrap();
    let t = tar_with(&[
        ("x", T::Directory, 0o4777, b"", None),
        ("x", T::Symlink, 0o777, b"", Some(v)),
        // An intermediate component replaced: `a/b`'s mode must not
        // land on `<outside>/b`.
        ("a", T::Directory, 0o755, b"", None),
        ("a/b", T::Directory, 0o2777, b"", None),
        ("a", T::Symlink, 0o777, b"", Some(o)),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(
        fs::metadata(outside.path().join("b")).unwrap().mode() & 0o7777,
        0o700
    );
    assert_eq!(fs::read_link(d.path().join("x")).unwrap(), victim);
    assert_eq!(fs::read_link(d.path().join("a")).unwrap(), outside.path());
}

#[test]
fn a_directory_replaced_by_a_file_loses_its_contents_and_mode() {
    let t = tar_with(&[
        ("d", T::Directory, 0o700, b"", None),
        ("d/f", T::Regular, 0o644, b"x", None),
        ("d", T::Regular, 0o640, b"now a file", None),
        ("e", T::Directory, 0o700, b"", None),
        ("e", T::Directory, 0o751, b"", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(fs::read(d.path().join("d")).unwrap(), b"now a file");
    assert_eq!(
        fs::metadata(d.path().join("d")).unwrap().mode() & 0o7777,
        0o640
    );
    // The later entry for the same directory wins.
    assert_eq!(
        fs::metadata(d.path().join("e")).unwrap().mode() & 0o7777,
        0o751
    );
}

#[test]
fn replacing_a_directory_drops_exactly_its_subtree() {
    let t = tar_with(&[
        ("a", T::Directory, 0o700, b"", None),
        ("a/b", T::Directory, 0o700, b"", None),
        ("a b", T::Directory, 0o711, b"", None),
        ("a.c", T::Directory, 0o711, b"", None),
        ("ab", T::Directory, 0o711, b"", None),
        ("a", T::Regular, 0o600, b"f", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    for sibling in ["a b", "a.c", "ab"] {
        let m = fs::metadata(d.path().join(sibling)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o711, "{sibling}");
    }
}

#[test]
fn hard_links_never_go_through_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"s").unwrap();
    let t = tar_of(&[
        ("s", T::Symlink, b"", Some(outside.path().to_str().unwrap())),
        ("h", T::Link, b"", Some("s/secret")),
    ]);
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer(&t[..], d.path(), "l");
    assert!(matches!(r, Err(ImageError::UnsafePath { .. })), "{r:?}");
    assert!(!d.path().join("h").exists());
    // A hard link to the symlink itself links the symlink.
    let t = tar_of(&[
        ("s", T::Symlink, b"", Some(outside.path().to_str().unwrap())),
        ("h", T::Link, b"", Some("s")),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    assert!(fs::symlink_metadata(d.path().join("h"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn modes_owners_and_times_are_applied() {
    let t = tar_with(&[
        ("ro", T::Directory, 0o555, b"", None),
        ("ro/sub", T::Directory, 0o500, b"", None),
        ("ro/sub/f", T::Regular, 0o4755, b"bin", None),
        ("p", T::Fifo, 0o620, b"", None),
    ]);
    let d = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], d.path(), "l").unwrap();
    let m = |p: &str| fs::symlink_metadata(d.path().join(p)).unwrap();
    assert_eq!(m("ro").mode() & 0o7777, 0o555);
    assert_eq!(m("ro/sub").mode() & 0o7777, 0o500);
    assert_eq!(m("ro/sub/f").mode() & 0o7777, 0o4755);
    assert_eq!(m("p").mode() & 0o7777, 0o620);
    for p in ["ro", "ro/sub", "ro/sub/f", "p"] {
        assert_eq!(m(p).mtime(), 1_700_000_000, "{p}");
    }
}

/// Found item 7 of issue 19: a 20 KB archive wrote 4 GiB.
#[test]
fn sparse_entries_stay_sparse() {
    let real = 4u64 << 30;
    let t = sparse_tar("big", real, real - 512, &[0xab; 512]);
    assert!(t.len() < 4096);
    let d = tempfile::tempdir().unwrap();
    let stats = unpack_layer(&t[..], d.path(), "l").unwrap();
    let m = fs::metadata(d.path().join("big")).unwrap();
    assert_eq!(m.len(), real);
    assert!(
        m.blocks() * 512 <= 64 << 10,
        "{} bytes allocated",
        m.blocks() * 512
    );
    assert_eq!(stats.logical_bytes, real);
    assert!(stats.bytes <= 4096, "{stats:?}");
    use std::os::unix::fs::FileExt;
    let mut tail = [0u8; 512];
    fs::File::open(d.path().join("big"))
        .unwrap()
        .read_exact_at(&mut tail, real - 512)
        .unwrap();
    assert_eq!(tail, [0xab; 512]);
}

#[test]
fn zero_blocks_become_holes_and_data_survives() {
    let mut data = vec![0u8; 3 * BLOCK + 100];
    data[BLOCK + 7] = 1;
    data[3 * BLOCK + 99] = 2;
    let t = tar_of(&[("f", T::Regular, &data, None)]);
    let d = tempfile::tempdir().unwrap();
    let stats = unpack_layer(&t[..], d.path(), "l").unwrap();
    assert_eq!(fs::read(d.path().join("f")).unwrap(), data);
    assert_eq!(stats.bytes, (BLOCK + 100) as u64);
}

#[test]
fn the_budget_stops_writing_before_it_is_exceeded() {
    let budget = UnpackBudget {
        max_bytes: 64 << 10,
        max_logical_bytes: 1 << 30,
    };
    let data = vec![1u8; 200 << 10];
    let t = tar_of(&[("f", T::Regular, &data, None)]);
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer_metered(&t[..], d.path(), "l", &Meter::new(budget));
    assert!(
        matches!(
            r,
            Err(ImageError::BudgetExceeded {
                budget: crate::image::Budget::Unpacked,
                ..
            })
        ),
        "{r:?}"
    );
    let written = fs::metadata(d.path().join("f"))
        .map(|m| m.blocks() * 512)
        .unwrap_or(0);
    assert!(written <= 64 << 10, "{written}");
    // A sparse file longer than the logical budget is refused before
    // anything is read.
    let t = sparse_tar("s", 2 << 30, 0, &[1; 512]);
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer_metered(&t[..], d.path(), "l", &Meter::new(budget));
    assert!(
        matches!(
            r,
            Err(ImageError::BudgetExceeded {
                budget: crate::image::Budget::Logical,
                ..
            })
        ),
        "{r:?}"
    );
    // Entries cost too: many empty files exceed a small budget.
    let many: Vec<String> = (0..32).map(|i| format!("f{i}")).collect();
    let entries: Vec<_> = many
        .iter()
        .map(|n| (n.as_str(), T::Regular, &b""[..], None))
        .collect();
    let t = tar_of(&entries);
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer_metered(&t[..], d.path(), "l", &Meter::new(budget));
    assert!(matches!(r, Err(ImageError::BudgetExceeded { .. })), "{r:?}");
}

/// The tar reader keeps a GNU long name in memory: one of 17 MiB (a few
/// KiB compressed) is refused before it is read whole.
#[test]
fn huge_tar_metadata_is_refused() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    let name = vec![b'a'; 17 << 20];
    h.set_size(name.len() as u64);
    h.set_cksum();
    b.append(&h, &name[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(T::Regular);
    h.set_size(0);
    h.as_old_mut().name[..1].copy_from_slice(b"x");
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    let t = b.into_inner().unwrap();
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer(&t[..], d.path(), "l");
    assert!(
        matches!(
            r,
            Err(ImageError::BudgetExceeded {
                budget: crate::image::Budget::Metadata,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn overlong_paths_are_refused() {
    let long = "a/".repeat(2100) + "f";
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(T::Regular);
    h.set_size(0);
    b.append_data(&mut h, &long, &b""[..]).unwrap();
    let t = b.into_inner().unwrap();
    let d = tempfile::tempdir().unwrap();
    let r = unpack_layer(&t[..], d.path(), "l");
    assert!(matches!(r, Err(ImageError::UnsafePath { .. })), "{r:?}");
}

#[test]
fn whiteouts_replace_directories_without_following_links() {
    if !crate::host::test_may_run_as_root("whiteouts_replace_directories_without_following_links") {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("keep"), b"k").unwrap();
    let t = tar_of(&[
        ("d", T::Directory, b"", None),
        ("d/in", T::Regular, b"x", None),
        (
            "d/l",
            T::Symlink,
            b"",
            Some(outside.path().to_str().unwrap()),
        ),
        (".wh.d", T::Regular, b"", None),
    ]);
    let dd = tempfile::tempdir().unwrap();
    unpack_layer(&t[..], dd.path(), "l").unwrap();
    assert!(fs::symlink_metadata(dd.path().join("d"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(outside.path().join("keep").exists());
}
