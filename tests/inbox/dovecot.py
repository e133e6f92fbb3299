"""A private Dovecot IMAP server for tests: its own temp dir, port, config and one user (test/secret)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

USER, PASSWORD = "test", "secret"

CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_privileged_group =
first_valid_uid = 1
default_internal_user = {internal_user}
default_login_user = {login_user}
default_internal_group = {internal_group}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # chroot() needs root; without these lines a rootless server never accepts a login.
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


def binary(name: str = "dovecot") -> str | None:
    """A Dovecot executable (dovecot lives in /usr/sbin, which a user's PATH may lack)."""
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """One server; `restart()` keeps the port and the mail, like a real server's restart."""

    def __init__(self, capabilities: str = ""):
        """capabilities: what to advertise after login instead of Dovecot's own list (e.g. without MOVE)."""
        self.dir = Path(tempfile.mkdtemp(prefix="ixdesk-dovecot-"))
        # mkdtemp gives 0700, and Dovecot's auth process (user dovecot) must read the users file.
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = self.dir / "dovecot.conf"
        home = self.dir / "home" / USER
        for sub in ("run", "state"):
            (self.dir / sub).mkdir()
        home.mkdir(parents=True)
        if os.getuid() == 0:
            # Dovecot refuses to run mail processes as root; nobody/nogroup owns the mail instead.
            uid = gid = 65534
            os.chown(home, uid, gid)
            names = {"internal_user": "dovecot", "login_user": "dovenull", "internal_group": "dovecot"}
        else:
            import grp
            import pwd
            uid, gid = os.getuid(), os.getgid()
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            names = {"internal_user": me, "login_user": me, "internal_group": group}
        (self.dir / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n")
        conf = CONF.format(d=self.dir, port=self.port, **names)
        if capabilities:
            conf += f"protocol imap {{\n  imap_capability = {capabilities}\n}}\n"
        self.conf.write_text(conf)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?tls=none&processed=Processed"

    def start(self) -> Dovecot:
        # A session of its own: stop() can then reach every process the server forked.
        self.proc = subprocess.Popen([binary(), "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"dovecot did not greet on port {self.port}:\n{self.log()}")

    def stop(self, graceful: bool = True) -> None:
        """Stop the server and drop every client, as a real restart does (SIGTERM to the master alone
        leaves the open IMAP sessions running, still serving their clients). Not graceful: a crash,
        clients see their connection end without a BYE."""
        if self.proc is None:
            return
        group = self.proc.pid
        if graceful:
            _signal_group(group, signal.SIGTERM)  # sessions say BYE to their clients
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                pass
        # Whatever still runs goes now. Not waiting for the group to empty: init reaps the orphans late.
        _signal_group(group, signal.SIGKILL)
        self.proc.wait(5)
        self.proc = None

    def restart(self, graceful: bool = True) -> None:
        self.stop(graceful)
        self.start()

    def close(self) -> None:
        self.stop(graceful=False)  # the files go next; nobody is left to say BYE to
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def client(self) -> IMAPClient:
        """A second, independent connection (the test's own, not the watcher's)."""
        c = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver a message; returns its UID."""
        return self.append_all([raw], folder)[0]

    def append_all(self, raws: list[bytes], folder: str = "INBOX") -> list[int]:
        """Deliver messages over one connection; returns their UIDs."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            # Each reply is b'[APPENDUID <uidvalidity> <uid>] Append completed.'
            return [int(c.append(folder, raw).split(b"]")[0].split()[-1]) for raw in raws]

    def messages(self, folder: str = "INBOX") -> dict[int, dict]:
        """{uid: {b'BODY[]': ..., b'FLAGS': ...}} of every message in folder, read without marking it seen."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return {}
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            return c.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return c.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def doveadm(self, *args: str) -> str:
        done = subprocess.run([binary("doveadm"), "-c", str(self.conf), *args],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout


def _signal_group(group: int, sig: int) -> bool:
    """Signal a process group; False when no process is left in it."""
    try:
        os.killpg(group, sig)
        return True
    except ProcessLookupError:
        return False
