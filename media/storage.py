"""Content-addressed blob storage: one `Storage` interface, a local-directory and an S3 backend."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol, cast, runtime_checkable
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from media.errors import BlobNotFound, InvalidMediaKey

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
"""Read/copy buffer: large enough to be fast, small enough never to hold a photo in memory."""

MAX_URL_EXPIRY = 7 * 24 * 3600
"""SigV4 presigned URLs cannot live longer than seven days."""

LOCAL_FILE_MODE = 0o640

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_VARIANT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}(?:\.[a-z0-9]{1,8})?")
_KEY_RE = re.compile(
    r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})"
    r"(?:\.(?P<variant>[a-z0-9][a-z0-9_-]{0,62}(?:\.[a-z0-9]{1,8})?))?"
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


# --- keys ------------------------------------------------------------------------------------------------


def blob_key(sha256: str, variant: str | None = None) -> str:
    """Storage key of a blob: `ab/cd/<sha256>`, or `ab/cd/<sha256>.<variant>` for a derived file.

    The variant is a suffix after a dot (`….thumb-256.jpg`), not a sub-folder, so that the same key is
    a plain file path in `LocalStorage` (a file and a folder cannot share the name `<sha256>`).
    `sha256` must be 64 lowercase hex characters; `variant` is lowercase `[a-z0-9_-]` with at most one
    extension. Raises InvalidMediaKey otherwise: nothing a client sends can reach `..` or `/`.
    """
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        raise InvalidMediaKey("sha256 must be 64 lowercase hexadecimal characters")
    key = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
    if variant is None:
        return key
    if not isinstance(variant, str) or not _VARIANT_RE.fullmatch(variant):
        raise InvalidMediaKey("variant must be lowercase letters, digits, '-' or '_' with one extension")
    return f"{key}.{variant}"


def parse_key(key: str) -> tuple[str, str | None]:
    """Split a key made by `blob_key` into `(sha256, variant)`. Raises InvalidMediaKey for anything else."""
    match = _KEY_RE.fullmatch(key) if isinstance(key, str) else None
    if match is None or match["a"] != match["sha"][:2] or match["b"] != match["sha"][2:4]:
        raise InvalidMediaKey("not a media storage key")
    return match["sha"], match["variant"]


def check_key(key: str) -> str:
    """Return `key` unchanged if it is a valid storage key; raise InvalidMediaKey otherwise."""
    parse_key(key)
    return key


# --- helpers ---------------------------------------------------------------------------------------------


def sha256_file(path: Path, *, chunk_size: int = CHUNK_SIZE) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def iter_stream(stream: IO[bytes], *, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a stream's bytes in chunks and close it at the end (for a streamed HTTP response body)."""
    with contextlib.closing(stream):
        while chunk := stream.read(chunk_size):
            yield chunk


def content_disposition(filename: str, *, attachment: bool = False) -> str:
    """A safe `Content-Disposition` value (RFC 6266): an ASCII `filename` plus RFC 5987 `filename*`.

    Control characters (CR/LF header injection), quotes and path separators are dropped or replaced.
    """
    kind = "attachment" if attachment else "inline"
    name = unicodedata.normalize("NFC", filename)
    name = "".join(ch for ch in name if ch.isprintable()).replace("/", "_").replace("\\", "_").strip()
    name = name or "download"
    # ASCII fallback for old clients: drop accents (é -> e), replace what remains (ß, CJK) with "_".
    stripped = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    ascii_name = stripped.encode("ascii", "replace").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()-]", "_", ascii_name).strip() or "download"
    value = f'{kind}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _check_expiry(expires_in: int) -> int:
    if not 1 <= int(expires_in) <= MAX_URL_EXPIRY:
        raise ValueError(f"expires_in must be between 1 and {MAX_URL_EXPIRY} seconds")
    return int(expires_in)


# --- interface -------------------------------------------------------------------------------------------


@runtime_checkable
class Storage(Protocol):
    """Content-addressed blob store. Keys come from `blob_key`; every method rejects other keys."""

    def exists(self, key: str) -> bool:
        """True if a blob is stored under `key`."""
        ...

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        """Store the local file at `path` under `key`, streamed. Returns False (and writes nothing) if the
        key already exists: the same content stored twice is stored once."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """A binary stream of the blob; the caller closes it. Raises BlobNotFound."""
        ...

    def size(self, key: str) -> int:
        """Size of the blob in bytes. Raises BlobNotFound."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing key is not an error."""
        ...

    def url(self, key: str, *, expires_in: int, filename: str | None = None,
            content_type: str | None = None) -> str | None:
        """A time-limited GET URL a client may fetch directly, or None if the app must stream the blob."""
        ...


# --- local directory -------------------------------------------------------------------------------------


class LocalStorage:
    """Blobs as files under `root`, at the path of their key. Writes are atomic and durable."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Filesystem path of a key (for `send_file` or X-Accel-Redirect); it may not exist yet."""
        return self.root / check_key(key)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        dest = self.path_for(key)
        if dest.is_file():
            log.debug("blob already stored: %s", key)
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the destination folder: os.replace is then an atomic rename on one filesystem, so a
        # reader never sees a half-written blob and a crash leaves at most a stray `.tmp-*` file.
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK_SIZE)
                out.flush()
                os.fchmod(out.fileno(), LOCAL_FILE_MODE)
                os.fsync(out.fileno())
            os.replace(tmp_name, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(dest.parent)
        log.info("blob stored: %s", key)
        return True

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.path_for(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise BlobNotFound(f"no blob {key}") from None

    def size(self, key: str) -> int:
        path = self.path_for(key)
        if not path.is_file():
            raise BlobNotFound(f"no blob {key}")
        return path.stat().st_size

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)
        log.info("blob deleted: %s", key)

    def url(self, key: str, *, expires_in: int, filename: str | None = None,
            content_type: str | None = None) -> str | None:
        check_key(key)
        _check_expiry(expires_in)
        return None


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- S3 --------------------------------------------------------------------------------------------------


def default_transfer_config() -> TransferConfig:
    """Multipart above 8 MiB in 8 MiB parts, 4 parts in parallel."""
    return TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                          max_concurrency=4, use_threads=True)


class S3Storage:
    """Blobs as objects in one S3 bucket (or an S3-compatible service), through a boto3 client."""

    # Content-addressed objects never change under their key.
    CACHE_CONTROL = "private, max-age=31536000, immutable"

    def __init__(self, client: Any, bucket: str, *, transfer_config: TransferConfig | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.transfer_config = transfer_config or default_transfer_config()

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r})"

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (dev and test setups; production buckets are provisioned)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as err:
            if _error_code(err) not in _MISSING_CODES | {"NoSuchBucket"}:
                raise
        region = self.client.meta.region_name
        params: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client.create_bucket(**params)
        log.info("S3 bucket created: %s", self.bucket)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=check_key(key)))
        except ClientError as err:
            if _error_code(err) in _MISSING_CODES:
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        if self.exists(key):
            log.debug("blob already stored: %s", key)
            return False
        # upload_file streams from disk and switches to a multipart upload above the threshold, retrying
        # failed parts; a concurrent upload of the same key writes the same bytes, so the race is harmless.
        self.client.upload_file(
            str(path), self.bucket, key,
            ExtraArgs={"ContentType": content_type, "CacheControl": self.CACHE_CONTROL},
            Config=self.transfer_config,
        )
        log.info("blob stored: %s", key)
        return True

    def open(self, key: str) -> IO[bytes]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as err:
            if _error_code(err) in _MISSING_CODES:
                raise BlobNotFound(f"no blob {key}") from None
            raise
        return cast(IO[bytes], response["Body"])

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise BlobNotFound(f"no blob {key}")
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        log.info("blob deleted: %s", key)

    def url(self, key: str, *, expires_in: int, filename: str | None = None,
            content_type: str | None = None) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        return cast(str, self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=_check_expiry(expires_in)))


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


# --- factory ---------------------------------------------------------------------------------------------


def s3_addressing_style(config: Mapping[str, Any]) -> str:
    """S3_ADDRESSING_STYLE: `virtual` (bucket.endpoint; Aliyun OSS refuses path-style requests), `path`
    (endpoint/bucket; MinIO, moto: no wildcard DNS needed), or `auto`: path-style with a custom endpoint,
    boto3's own choice on AWS."""
    style = str(config.get("S3_ADDRESSING_STYLE") or "auto").lower()
    if style not in ("auto", "path", "virtual"):
        raise ValueError(f"S3_ADDRESSING_STYLE must be auto, path or virtual, not {style!r}")
    if style == "auto" and config.get("S3_ENDPOINT_URL"):
        return "path"
    return style


def s3_client_from_config(config: Mapping[str, Any]) -> Any:
    """A boto3 S3 client from app config. Credentials absent from config come from boto3's usual chain."""
    endpoint_url = config.get("S3_ENDPOINT_URL") or None
    boto_config = BotoConfig(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 5},
        s3={"addressing_style": s3_addressing_style(config)},
    )
    # A private session, not boto3's module-level default one: sessions are not thread-safe to share.
    session = boto3.session.Session(
        aws_access_key_id=config.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=config.get("AWS_SECRET_ACCESS_KEY") or None,
        region_name=config.get("S3_REGION") or None,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=boto_config)


def storage_from_config(config: Mapping[str, Any]) -> Storage:
    """Build the configured backend: MEDIA_BACKEND 'local' (MEDIA_ROOT) or 's3' (S3_BUCKET, S3_ENDPOINT_URL,
    S3_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, S3_CREATE_BUCKET). Raises ValueError if incomplete."""
    backend = str(config.get("MEDIA_BACKEND") or "local").strip().lower()
    if backend == "local":
        root = config.get("MEDIA_ROOT")
        if not root:
            raise ValueError("MEDIA_ROOT is required when MEDIA_BACKEND is 'local'")
        return LocalStorage(Path(root))
    if backend == "s3":
        bucket = config.get("S3_BUCKET")
        if not bucket:
            raise ValueError("S3_BUCKET is required when MEDIA_BACKEND is 's3'")
        storage = S3Storage(s3_client_from_config(config), str(bucket))
        if _as_bool(config.get("S3_CREATE_BUCKET", False)):
            storage.ensure_bucket()
        return storage
    raise ValueError(f"MEDIA_BACKEND must be 'local' or 's3', not {backend!r}")
