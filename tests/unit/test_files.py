"""The file store keeps each file once, whole, under its SHA-256; pictures are told by bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage.files import FolderStore, image_type

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "kind"),
    [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp"), (HEIC, "image/heic")],
)
def test_pictures_are_told_by_their_bytes(data: bytes, kind: str) -> None:
    assert image_type(data) == kind


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a" + b"\x00" * 20, b"%PDF-1.7", b"<svg xmlns=", b"PK\x03\x04", JPEG[1:]]
)
def test_anything_else_is_not_a_picture(data: bytes) -> None:
    assert image_type(data) is None


def test_a_file_is_stored_once_under_its_hash_and_read_back(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    digest = store.put(JPEG)
    assert digest == hashlib.sha256(JPEG).hexdigest()
    assert store.put(JPEG) == digest
    assert store.get(digest) == JPEG
    found = store.path(digest)
    assert found is not None and found.is_relative_to(tmp_path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


def test_a_name_that_is_not_a_hash_finds_nothing(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    store.put(PNG)
    assert store.get("../../etc/passwd") is None
    assert store.path("A" * 64) is None
    assert store.get("0" * 64) is None
