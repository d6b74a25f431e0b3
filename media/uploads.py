"""Resumable uploads on disk (tus 1.0 core + checksum): partial files, per-upload locks, header parsing.

Framework-free: the web layer hands over a readable stream and the parsed headers; the database row that
says who owns an upload and how far it got lives in the application. The partial file is the bytes; the
row's offset is the truth about how many of them were acknowledged (`reconcile` trims the rest).
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from media.errors import (
    ChecksumAlgorithmUnsupported,
    ChecksumMismatch,
    UploadHeaderInvalid,
    UploadLocked,
    UploadTooLarge,
)

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "checksum", "expiration", "termination")
CHECKSUM_ALGORITHMS = ("sha1", "sha256")  # sha1 is the tus checksum extension's MUST
BLOCK_SIZE = 256 * 1024
"""Bytes read from the request per step: the memory an upload costs, whatever the file size."""

_PART, _LOCK = ".part", ".lock"
_KEY_RE = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
_INT_RE = re.compile(r"^[0-9]{1,19}$")


# --- headers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checksum:
    algorithm: str
    digest: bytes

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def parse_length(value: str | None, header: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset). Raises UploadHeaderInvalid."""
    if value is None or not _INT_RE.match(value.strip()):
        raise UploadHeaderInvalid(f"{header} must be a non-negative integer", header=header)
    return int(value.strip())


def parse_checksum(value: str | None) -> Checksum | None:
    """`Upload-Checksum: sha1|sha256 <base64 digest>`. Raises ChecksumAlgorithmUnsupported / UploadHeaderInvalid."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ChecksumAlgorithmUnsupported(
            f"Upload-Checksum algorithm {algorithm or '(none)'!r} is not supported; use sha1 or sha256",
            supported=list(CHECKSUM_ALGORITHMS))
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    size = hashlib.new(algorithm).digest_size
    if len(digest) != size:
        raise UploadHeaderInvalid(f"Upload-Checksum must be '{algorithm} <base64 of the {size}-byte digest>'",
                                  header="Upload-Checksum")
    return Checksum(algorithm, digest)


def parse_metadata(value: str | None, *, max_length: int = 4096) -> dict[str, str]:
    """`Upload-Metadata: key base64value,key2 base64value2,flag` -> {key: text}. Values must be UTF-8.

    Raises UploadHeaderInvalid for a malformed pair, a duplicate key, bad base64 or non-UTF-8 text.
    """
    if value is None or not value.strip():
        return {}
    if len(value) > max_length:
        raise UploadHeaderInvalid(f"Upload-Metadata is longer than {max_length} characters", header="Upload-Metadata")
    result: dict[str, str] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not _KEY_RE.match(key) or len(parts) > 2:
            raise UploadHeaderInvalid("Upload-Metadata must be comma-separated 'key base64value' pairs",
                                      header="Upload-Metadata")
        if key in result:
            raise UploadHeaderInvalid(f"Upload-Metadata repeats the key {key!r}", header="Upload-Metadata")
        try:
            result[key] = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (binascii.Error, ValueError):
            raise UploadHeaderInvalid(f"Upload-Metadata value of {key!r} is not base64-encoded UTF-8",
                                      header="Upload-Metadata") from None
    return result


def encode_metadata(values: dict[str, str]) -> str:
    """The inverse of `parse_metadata` (for clients, tests and benchmarks)."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


# --- partial files ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendResult:
    """`offset` is where the file now ends. `interrupted` is the error that cut the request body short
    (the bytes before it are kept when the chunk had no checksum)."""

    offset: int
    written: int
    interrupted: BaseException | None = None


class PartialUploads:
    """Partial files `<root>/<upload id>.part`, one per unfinished upload, with an exclusive lock each."""

    def __init__(self, root: Path, *, block_size: int = BLOCK_SIZE) -> None:
        self.root = Path(root)
        self.block_size = block_size

    def __repr__(self) -> str:
        return f"PartialUploads({str(self.root)!r})"

    def _name(self, upload_id: uuid.UUID, suffix: str) -> Path:
        if not isinstance(upload_id, uuid.UUID):
            raise TypeError("upload_id must be a UUID")
        return self.root / f"{upload_id.hex}{suffix}"

    def path(self, upload_id: uuid.UUID) -> Path:
        return self._name(upload_id, _PART)

    def create(self, upload_id: uuid.UUID) -> None:
        """Create the empty partial file (refuses an id that already has one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path(upload_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)

    def size(self, upload_id: uuid.UUID) -> int | None:
        """Bytes in the partial file, or None if there is none."""
        try:
            return self.path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    def reconcile(self, upload_id: uuid.UUID, acknowledged: int) -> int:
        """Make the file agree with the acknowledged offset and return the offset to continue from.

        Bytes past `acknowledged` were written by a request whose transaction did not commit: trimmed. A file
        shorter than `acknowledged` (lost, truncated by hand) moves the offset back; a missing file starts over.
        """
        path = self.path(upload_id)
        size = self.size(upload_id)
        if size is None:
            self.root.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            log.warning("partial file of upload %s was missing; restarting at 0", upload_id)
            return 0
        if size > acknowledged:
            os.truncate(path, acknowledged)
            return acknowledged
        if size < acknowledged:
            log.warning("partial file of upload %s is shorter than acknowledged (%d < %d)", upload_id, size, acknowledged)
        return size

    def append(self, upload_id: uuid.UUID, stream: IO[bytes], *, offset: int, limit: int,
               checksum: Checksum | None = None) -> AppendResult:
        """Append the stream's bytes at `offset`, reading `block_size` bytes at a time.

        `limit` is how many bytes may still come (the upload's remaining length): more is UploadTooLarge and
        nothing is kept. With a checksum the chunk is all or nothing: a mismatch raises ChecksumMismatch, an
        interrupted body re-raises, and the file is trimmed back to `offset` in both cases. Without one, the
        bytes received before an interruption are kept (fsynced) and reported in `interrupted`.
        """
        path = self.path(upload_id)
        hasher = checksum.hasher() if checksum else None
        written = 0
        interrupted: BaseException | None = None
        with open(path, "r+b") as out:
            out.seek(offset)
            out.truncate()
            try:
                while True:
                    try:
                        block = stream.read(self.block_size)
                    except Exception as err:  # noqa: BLE001 - a dropped connection surfaces as many types
                        if getattr(err, "code", None) == 413:  # the web server's own body limit
                            raise UploadTooLarge("the request body is larger than allowed") from err
                        interrupted = err
                        break
                    if not block:
                        break
                    if written + len(block) > limit:
                        raise UploadTooLarge(f"the chunk goes past the declared Upload-Length by "
                                             f"{written + len(block) - limit} bytes or more")
                    out.write(block)
                    written += len(block)
                    if hasher:
                        hasher.update(block)
                if hasher is not None and interrupted is None and hasher.digest() != checksum.digest:  # type: ignore[union-attr]
                    raise ChecksumMismatch("the chunk does not match its Upload-Checksum; it was discarded",
                                           upload_offset=offset)
                if hasher is not None and interrupted is not None:
                    raise interrupted
            except BaseException:
                out.seek(offset)
                out.truncate()
                out.flush()
                raise
            out.flush()
            os.fsync(out.fileno())
        if interrupted is not None:
            log.info("upload %s interrupted after %d bytes: %s", upload_id, written, type(interrupted).__name__)
        return AppendResult(offset=offset + written, written=written, interrupted=interrupted)

    def discard(self, upload_id: uuid.UUID) -> None:
        """Remove the partial file (a missing one is fine)."""
        self.path(upload_id).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, upload_id: uuid.UUID) -> Iterator[None]:
        """Hold the upload's exclusive lock (flock on `<id>.lock`) or raise UploadLocked at once.

        Works across processes on one host and on shared filesystems with working flock. The lock file is
        removed on release; after locking we check that the path still names the file we locked, so a
        request that raced with a removal retries on the new file instead of sharing the lock.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._name(upload_id, _LOCK)
        for _ in range(5):
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise UploadLocked("another request is writing to this upload; retry shortly") from None
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:  # pragma: no cover - only under a pathological removal storm
            raise UploadLocked("could not lock the upload; retry shortly")
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    def stray_ids(self, *, older_than_seconds: float) -> list[uuid.UUID]:
        """Upload ids with a partial or lock file untouched for `older_than_seconds` (for cleanup)."""
        if not self.root.is_dir():
            return []
        cutoff = time.time() - older_than_seconds
        found: set[uuid.UUID] = set()
        for entry in os.scandir(self.root):
            stem, _, suffix = entry.name.partition(".")
            if "." + suffix not in (_PART, _LOCK):
                continue
            try:
                upload_id = uuid.UUID(hex=stem)
                if entry.stat().st_mtime < cutoff:
                    found.add(upload_id)
            except (ValueError, FileNotFoundError):
                continue
        return sorted(found)

    def remove_stray(self, upload_id: uuid.UUID) -> None:
        """Remove a stray upload's files, unless someone holds its lock."""
        try:
            with self.lock(upload_id):
                self.discard(upload_id)
        except UploadLocked:
            return

    # --- single-request files (multipart uploads) ---------------------------------------------------

    @contextlib.contextmanager
    def spool(self, stream: IO[bytes], *, limit: int) -> Iterator[tuple[Path, str, int]]:
        """Copy a stream to a temporary file next to the partial files, hashing it on the way.

        Yields (path, sha256 hex, size); the file is removed when the block ends. More than `limit` bytes
        raises UploadTooLarge.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix="form-", suffix=".tmp")
        path = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(self.block_size):
                    size += len(block)
                    if size > limit:
                        raise UploadTooLarge(f"the file is larger than {limit} bytes", max_bytes=limit)
                    digest.update(block)
                    out.write(block)
            yield path, digest.hexdigest(), size
        finally:
            path.unlink(missing_ok=True)


def copy_stream(stream: IO[bytes], dest: Path, *, block_size: int = BLOCK_SIZE) -> None:
    """Write a stream to `dest` in blocks (used to fetch an original from remote storage for processing)."""
    with contextlib.closing(stream), open(dest, "wb") as out:
        shutil.copyfileobj(stream, out, block_size)
