"""Builds a tiny `docker save` archive from Debian's busybox-static (/bin/busybox).

usage: mkimage.py OUT.tar [REPO:TAG]
The image has /bin/busybox and /bin/sh, echo, cat, ls, sleep, ps as symlinks to it.
"""
import hashlib
import io
import json
import sys
import tarfile

out = sys.argv[1]
tag = sys.argv[2] if len(sys.argv) > 2 else "busybox:latest"


def layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for d in ["bin", "etc", "tmp"]:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            t.addfile(info)
        data = open("/bin/busybox", "rb").read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        t.addfile(info, io.BytesIO(data))
        for name in ["sh", "echo", "cat", "ls", "sleep", "ps", "id", "env", "dd", "head", "sync", "mkdir", "touch"]:
            info = tarfile.TarInfo(f"bin/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        info.mode = 0o644
        t.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


layer = layer_tar()
layer_digest = hashlib.sha256(layer).hexdigest()
config = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
    }
).encode()
config_digest = hashlib.sha256(config).hexdigest()
manifest = json.dumps([{"Config": f"{config_digest}.json", "RepoTags": [tag], "Layers": [f"{layer_digest}/layer.tar"]}]).encode()
with tarfile.open(out, "w") as t:
    for name, data in [(f"{config_digest}.json", config), (f"{layer_digest}/layer.tar", layer), ("manifest.json", manifest)]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
print(f"sha256:{config_digest}")
