"""Files kept by their content: evidence photos, stored once each under their SHA-256.

Owns the file store's interface (``put`` bytes, ``get`` them back, ``path`` for serving) and
its default, a folder: ``ab/cd/abcd…`` under a root, written to a temporary name and renamed,
so a file is either whole or absent. Another store (object storage) implements the same three
methods. Also owns telling what an upload really is from its first bytes, never from its name
or the type the sender claimed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

# Magic numbers of the pictures a phone sends: JPEG, PNG, WebP, and HEIC/HEIF (iPhones).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def image_type(data: bytes) -> str | None:
    """The MIME type of a picture, from its bytes; None if it is not one we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


class FileStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes | None: ...

    def path(self, sha256: str) -> Path | None: ...


class FolderStore:
    """Files under a folder, named by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _where(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._where(sha256)
        if target.is_file():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str) -> bytes | None:
        where = self.path(sha256)
        return where.read_bytes() if where is not None else None

    def path(self, sha256: str) -> Path | None:
        try:
            target = self._where(sha256)
        except ValueError:
            return None
        return target if target.is_file() else None
