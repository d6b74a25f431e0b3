"""Resumable-upload primitives (media.uploads, media.types): header parsing, partial files, locks."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import time
import uuid
from pathlib import Path

import pytest

from media.errors import (
    ChecksumAlgorithmUnsupported,
    ChecksumMismatch,
    DeclaredTypeMismatch,
    UnsupportedImageType,
    UploadHeaderInvalid,
    UploadLocked,
    UploadTooLarge,
)
from media.types import check_declared, declared_format, formats_for
from media.uploads import (
    Checksum,
    PartialUploads,
    encode_metadata,
    parse_checksum,
    parse_length,
    parse_metadata,
)


class BrokenStream(io.RawIOBase):
    """Yields `data`, then fails the way a dropped connection does."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        if not self.data:
            raise ConnectionResetError("client went away")
        block, self.data = self.data[:size], self.data[size:]
        return block


@pytest.fixture
def uploads(tmp_path: Path) -> PartialUploads:
    return PartialUploads(tmp_path / "uploads", block_size=1000)


def checksum_of(data: bytes) -> Checksum:
    return Checksum("sha256", hashlib.sha256(data).digest())


# --- headers ---------------------------------------------------------------------------------------------


def test_metadata_round_trips_unicode_and_empty_values() -> None:
    values = {"filename": "泵 房.jpg", "kind": "fault", "flag": ""}
    assert parse_metadata(encode_metadata(values)) == values
    assert parse_metadata("is_confidential,kind ZmF1bHQ=") == {"is_confidential": "", "kind": "fault"}
    assert parse_metadata(None) == {} and parse_metadata("  ") == {}


@pytest.mark.parametrize("header", ["kind", "kind !!", "kind ZmF1bHQ= extra", "bad/key ZmF1bHQ=",
                                    "kind ZmF1bHQ=,kind ZmF1bHQ=", "kind //79", "x " + "A" * 5000])
def test_malformed_metadata_is_refused(header: str) -> None:
    if header == "kind":
        assert parse_metadata(header) == {"kind": ""}
        return
    with pytest.raises(UploadHeaderInvalid):
        parse_metadata(header)


@pytest.mark.parametrize("value", [None, "", "-1", "1.5", "0x10", "12345678901234567890", " 7 "])
def test_lengths(value: str | None) -> None:
    if value == " 7 ":
        assert parse_length(value, "Upload-Length") == 7
        return
    with pytest.raises(UploadHeaderInvalid):
        parse_length(value, "Upload-Length")


def test_checksum_header() -> None:
    digest = hashlib.sha256(b"abc").digest()
    assert parse_checksum("sha256 " + base64.b64encode(digest).decode()) == Checksum("sha256", digest)
    assert parse_checksum(None) is None
    # sha1 is the tus checksum extension's mandatory algorithm (issue 16); md5 is still refused
    assert parse_checksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=") == Checksum("sha1", hashlib.sha1(b"abc").digest())  # noqa: S324
    with pytest.raises(ChecksumAlgorithmUnsupported):
        parse_checksum("md5 kAFQmDzST7DWlj99KOF/cg==")
    for bad in ("sha256", "sha256 %%%", "sha256 " + base64.b64encode(b"short").decode()):
        with pytest.raises(UploadHeaderInvalid):
            parse_checksum(bad)


# --- declared types ----------------------------------------------------------------------------------------


def test_declared_format_from_type_or_name() -> None:
    assert declared_format("image/jpeg; charset=binary", None) == "JPEG"
    assert declared_format("image/heic", "IMG_0001.HEIC") == "HEIF"
    assert declared_format("application/octet-stream", "a.PNG") == "PNG"
    assert declared_format(None, "noextension") is None
    with pytest.raises(UnsupportedImageType):
        declared_format("text/plain", "a.jpg")
    check_declared("PNG", None, "shot")  # nothing declared: fine
    with pytest.raises(DeclaredTypeMismatch):
        check_declared("PNG", None, "renamed.jpg")
    with pytest.raises(ValueError):
        formats_for(["image/gif"])
    assert formats_for(["image/jpeg", "image/heic"]) == {"JPEG", "HEIF"}


# --- partial files -----------------------------------------------------------------------------------------


def test_append_in_blocks_and_checksum_per_chunk(uploads: PartialUploads) -> None:
    upload_id, data = uuid.uuid4(), os.urandom(5500)
    uploads.create(upload_id)
    first = uploads.append(upload_id, io.BytesIO(data[:2500]), offset=0, limit=5500, checksum=checksum_of(data[:2500]))
    assert (first.offset, first.written, first.interrupted) == (2500, 2500, None)
    with pytest.raises(ChecksumMismatch):
        uploads.append(upload_id, io.BytesIO(data[2500:]), offset=2500, limit=3000, checksum=checksum_of(b"other"))
    assert uploads.size(upload_id) == 2500
    uploads.append(upload_id, io.BytesIO(data[2500:]), offset=2500, limit=3000)
    assert uploads.path(upload_id).read_bytes() == data


def test_interrupted_chunk_keeps_bytes_without_checksum_and_drops_them_with_one(uploads: PartialUploads) -> None:
    upload_id, data = uuid.uuid4(), os.urandom(4000)
    uploads.create(upload_id)
    result = uploads.append(upload_id, BrokenStream(data[:2100]), offset=0, limit=4000)
    assert result.offset == 2100 and isinstance(result.interrupted, ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        uploads.append(upload_id, BrokenStream(data[2100:3000]), offset=2100, limit=1900,
                       checksum=checksum_of(data[2100:]))
    assert uploads.path(upload_id).read_bytes() == data[:2100]


def test_more_bytes_than_remain_are_refused_and_not_kept(uploads: PartialUploads) -> None:
    upload_id = uuid.uuid4()
    uploads.create(upload_id)
    with pytest.raises(UploadTooLarge):
        uploads.append(upload_id, io.BytesIO(b"x" * 1500), offset=0, limit=1200)
    assert uploads.size(upload_id) == 0


def test_the_web_servers_body_limit_is_too_large_not_an_interruption(uploads: PartialUploads) -> None:
    class Limited(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            err = ValueError("body too large")
            err.code = 413  # type: ignore[attr-defined]  # what werkzeug's RequestEntityTooLarge carries
            raise err

    upload_id = uuid.uuid4()
    uploads.create(upload_id)
    with pytest.raises(UploadTooLarge):
        uploads.append(upload_id, Limited(), offset=0, limit=100)


def test_reconcile_trims_unacknowledged_bytes_and_recreates_lost_files(uploads: PartialUploads) -> None:
    upload_id = uuid.uuid4()
    uploads.create(upload_id)
    uploads.append(upload_id, io.BytesIO(b"y" * 3000), offset=0, limit=3000)
    assert uploads.reconcile(upload_id, 1000) == 1000 and uploads.size(upload_id) == 1000
    assert uploads.reconcile(upload_id, 2000) == 1000  # shorter than acknowledged: resume from what is there
    uploads.discard(upload_id)
    assert uploads.reconcile(upload_id, 1000) == 0 and uploads.size(upload_id) == 0


def test_lock_is_exclusive_and_leaves_no_file(uploads: PartialUploads) -> None:
    upload_id = uuid.uuid4()
    with uploads.lock(upload_id):
        with pytest.raises(UploadLocked), uploads.lock(upload_id):
            pass
        with uploads.lock(uuid.uuid4()):  # other uploads are independent
            pass
    with uploads.lock(upload_id):  # released
        pass
    assert list(uploads.root.iterdir()) == []


def test_spool_hashes_and_enforces_the_limit(uploads: PartialUploads) -> None:
    data = os.urandom(3333)
    with uploads.spool(io.BytesIO(data), limit=5000) as (path, digest, size):
        assert path.read_bytes() == data and digest == hashlib.sha256(data).hexdigest() and size == 3333
    assert not path.exists()
    with pytest.raises(UploadTooLarge), uploads.spool(io.BytesIO(data), limit=3000):
        pass
    assert list(uploads.root.iterdir()) == []


def test_stray_ids_are_old_partial_files(uploads: PartialUploads) -> None:
    old, new = uuid.uuid4(), uuid.uuid4()
    uploads.create(old)
    uploads.create(new)
    past = time.time() - 7200
    os.utime(uploads.path(old), (past, past))
    (uploads.root / "notes.txt").write_text("ignored")
    assert uploads.stray_ids(older_than_seconds=3600) == [old]
    uploads.remove_stray(old)
    assert uploads.size(old) is None and uploads.size(new) == 0
