"""Content-addressed file storage: a file's name is its sha256, so the same bytes are stored once."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_root: Path | None = None


def configure(root: Path) -> None:
    """Use root (STORAGE_DIR) for every file from now on."""
    global _root
    _root = Path(root)
    _root.mkdir(parents=True, exist_ok=True)


def root() -> Path:
    if _root is None:
        raise RuntimeError("storage is not configured (STORAGE_DIR)")
    return _root


def path_for(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return root() / "blobs" / sha256[:2] / sha256[2:4] / sha256


def put(data: bytes) -> tuple[str, bool]:
    """Store bytes; returns (sha256, True when new). Written atomically, so a crash leaves no half file."""
    sha = hashlib.sha256(data).hexdigest()
    target = path_for(sha)
    if target.exists():
        return sha, False
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
    return sha, True


def get(sha256: str) -> bytes:
    return path_for(sha256).read_bytes()
