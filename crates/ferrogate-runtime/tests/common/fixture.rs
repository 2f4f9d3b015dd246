//! Test images built from Debian's busybox-static (`/bin/busybox`).
#![allow(dead_code)]
