"""Content-addressed file storage: a file's name is its sha256, so the same bytes are stored once.

Documents, raw mail and packets all go through put/get here. Where the bytes live is a backend: a local
folder (STORAGE_DIR, one machine) or an S3-compatible object store (STORAGE_URL=s3://bucket/prefix) that
every web node and worker shares. Callers see the same two calls and the same errors either way.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class StorageError(Exception):
    """The store could not keep or hand back a file; the message names the store and what to do."""


class MissingFile(StorageError, FileNotFoundError):
    """The store answered, and it has no file by that sha: retrying will not help."""

    def __init__(self, sha256: str, where: str):
        super().__init__(f"file {sha256} is missing from the store {where}")
        self.sha256, self.where = sha256, where


class Backend(Protocol):
    where: str  # for messages: the folder or s3://bucket/prefix

    def location(self, sha256: str) -> str:
        """Where the file with this sha is (or would be) kept: a path, or an s3:// URL."""

    def put(self, sha256: str, data: bytes) -> bool:
        """Keep data under sha256; True when it was not there before. Raises StorageError."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under sha256. Raises MissingFile, or StorageError when the store fails."""


class LocalFolder:
    """Files under root/blobs/aa/bb/<sha>, written atomically, so a crash leaves no half file."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.where = str(self.root)

    def path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256[2:4] / sha256

    def location(self, sha256: str) -> str:
        return str(self.path(sha256))

    def put(self, sha256: str, data: bytes) -> bool:
        target = self.path(sha256)
        if target.exists():
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:  # disk full, read-only, permissions: the file is not kept
            raise StorageError(f"the file store {self.where} cannot write ({exc.strerror or exc}); "
                               f"try again later or tell an admin") from exc
        return True

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise MissingFile(sha256, self.where) from None
        except OSError as exc:
            raise StorageError(f"the file store {self.where} cannot read file {sha256} "
                               f"({exc.strerror or exc})") from exc


_backend: Backend | None = None
_settings: tuple[Path, str] | None = None


def configure(storage_dir: Path, storage_url: str = "") -> Backend:
    """Use storage_url (s3://bucket/prefix) when set, else the folder storage_dir, for every file from now on."""
    global _backend, _settings
    if storage_url:
        from models.storage_s3 import S3
        chosen: Backend = S3(storage_url)
    else:
        chosen = LocalFolder(storage_dir)
    _backend, _settings = chosen, (Path(storage_dir), storage_url)
    return chosen


def configured() -> tuple[Path, str]:
    """The (storage_dir, storage_url) configure() was last given, to hand on or to put back."""
    if _settings is None:
        raise RuntimeError("storage is not configured (STORAGE_DIR / STORAGE_URL)")
    return _settings


def backend() -> Backend:
    if _backend is None:
        raise RuntimeError("storage is not configured (STORAGE_DIR / STORAGE_URL)")
    return _backend


def _local() -> LocalFolder:
    store = backend()
    if not isinstance(store, LocalFolder):
        # Code that reaches for a path would work on one machine and fail on the next: refused loudly.
        raise StorageError(f"files live in the store {store.where}, not on this machine's disk; "
                           f"use storage.get/put")
    return store


def root() -> Path:
    """The local folder (the embedded backend only)."""
    return _local().root


def check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return sha256


def path_for(sha256: str) -> Path:
    """Where the local folder keeps a file (the embedded backend only)."""
    return _local().path(check_sha(sha256))


def location(sha256: str) -> str:
    """Where a file is kept, on either backend (for messages and admins; read it with get)."""
    return backend().location(check_sha(sha256))


def put(data: bytes) -> tuple[str, bool]:
    """Store bytes; returns (sha256, True when new). Raises StorageError: the file was not kept."""
    sha = hashlib.sha256(data).hexdigest()
    return sha, backend().put(sha, data)


def get(sha256: str) -> bytes:
    """The stored bytes. Raises MissingFile (no such file) or StorageError (the store failed)."""
    return backend().get(check_sha(sha256))
