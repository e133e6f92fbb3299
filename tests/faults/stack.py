"""The production processes under the shipped supervisord config (deploy/supervisord.conf), for tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


class Supervised:
    """supervisord running the shipped config with the given environment; stop() ends every process."""

    def __init__(self, run_dir: Path, env: dict[str, str], web: bool = False, watch: bool = True,
                 worker_processes: int = 2, worker_threads: int = 2):
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **env, "IXDESK_HOME": str(ROOT), "IXDESK_RUN": str(run_dir),
                    "IXDESK_WEB": str(web).lower(), "IXDESK_WATCH": str(watch).lower(),
                    "WEB_BIND": env.get("WEB_BIND", "127.0.0.1:0"), "WEB_WORKERS": env.get("WEB_WORKERS", "1"),
                    "WORKER_PROCESSES": str(worker_processes), "WORKER_THREADS": str(worker_threads)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Supervised":
        self.proc = subprocess.Popen([str(VENV_BIN / "supervisord"), "-c", str(ROOT / "deploy/supervisord.conf")],
                                     env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"supervisord exited: {self.log('supervisord')}")
            if (self.run_dir / "supervisor.sock").exists() and self.ctl("pid").strip().isdigit():
                return self
            time.sleep(0.1)
        raise RuntimeError("supervisord did not start")

    def ctl(self, *args: str) -> str:
        done = subprocess.run([str(VENV_BIN / "supervisorctl"), "-c", str(ROOT / "deploy/supervisord.conf"), *args],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        return done.stdout

    def pid(self, program: str) -> int:
        out = self.ctl("pid", program).strip()
        return int(out) if out.isdigit() and out != "0" else 0

    def children(self, pid: int) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def wait_running(self, program: str, timeout: float = 30.0, other_than: int = 0) -> int:
        """The program's pid once it runs (a new one, when other_than names the old)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(program)
            if pid and pid != other_than and "RUNNING" in self.ctl("status", program):
                return pid
            time.sleep(0.2)
        raise AssertionError(f"{program} is not running after {timeout} s: {self.ctl('status')}\n{self.log(program)}")

    def log(self, program: str) -> str:
        path = self.run_dir / f"{program}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.ctl("shutdown")
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
