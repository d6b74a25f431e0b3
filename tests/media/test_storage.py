"""Storage backends: one behaviour suite run against LocalStorage and S3Storage (moto server over HTTP)."""
from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from media.errors import BlobNotFound, InvalidMediaKey
from media.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    blob_key,
    content_disposition,
    iter_stream,
    parse_key,
    sha256_file,
    storage_from_config,
)

MiB = 1024 * 1024
SHA = hashlib.sha256(b"photo").hexdigest()
BAD_KEYS = [
    "../etc/passwd",
    "ab/cd/../../etc/passwd",
    f"/{SHA[:2]}/{SHA[2:4]}/{SHA}",
    f"{SHA[:2]}/{SHA[2:4]}/{SHA.upper()}",
    f"{SHA[:2]}/{SHA[2:4]}/{SHA[:-1]}g",
    f"00/00/{SHA}",  # prefix folders must match the hash
    f"{SHA[:2]}/{SHA[2:4]}/{SHA}/../../x",
    f"{SHA[:2]}/{SHA[2:4]}/{SHA}.thumb/../x",
    SHA,
    "",
]


def write_file(path: Path, data: bytes) -> tuple[Path, str]:
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    s3 = S3Storage(request.getfixturevalue("s3_client"), request.getfixturevalue("bucket_name"),
                   transfer_config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    s3.ensure_bucket()
    return s3


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, str]:
    return write_file(tmp_path / "upload.bin", os.urandom(300_000))


# --- keys ------------------------------------------------------------------------------------------------


def test_blob_key_lays_out_two_folder_levels() -> None:
    assert blob_key(SHA) == f"{SHA[:2]}/{SHA[2:4]}/{SHA}"
    assert blob_key(SHA, "thumb-256.jpg") == f"{SHA[:2]}/{SHA[2:4]}/{SHA}.thumb-256.jpg"
    assert parse_key(blob_key(SHA, "served.jpg")) == (SHA, "served.jpg")
    assert parse_key(blob_key(SHA)) == (SHA, None)


@pytest.mark.parametrize("sha", [SHA.upper(), SHA[:-1], SHA + "0", "../" + SHA[3:], "", "g" * 64])
def test_blob_key_rejects_non_sha256(sha: str) -> None:
    with pytest.raises(InvalidMediaKey):
        blob_key(sha)


@pytest.mark.parametrize("variant", ["../x", "a/b", "thumb..jpg", "Thumb.jpg", ".jpg", "", "a.b.c", "x" * 80])
def test_blob_key_rejects_unsafe_variant(variant: str) -> None:
    with pytest.raises(InvalidMediaKey):
        blob_key(SHA, variant)


def test_content_disposition_is_safe_and_keeps_unicode_name() -> None:
    assert content_disposition("site photo.jpg") == 'inline; filename="site photo.jpg"'
    value = content_disposition('Größe "1"\r\nX-Evil: 1.jpg', attachment=True)
    assert "\r" not in value and "\n" not in value
    assert value == ('attachment; filename="Gro_e _1_X-Evil_ 1.jpg"; '
                     "filename*=UTF-8''Gr%C3%B6%C3%9Fe%20%221%22X-Evil%3A%201.jpg")


def test_sha256_file_and_iter_stream(blob: tuple[Path, str]) -> None:
    path, sha = blob
    assert sha256_file(path, chunk_size=4096) == sha
    with path.open("rb") as fh:
        assert hashlib.sha256(b"".join(iter_stream(fh, chunk_size=1000))).hexdigest() == sha
        assert fh.closed


# --- one suite, both backends ----------------------------------------------------------------------------


def test_backends_satisfy_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_put_then_exists_size_and_open_streams_exact_bytes(storage: Storage, blob: tuple[Path, str]) -> None:
    path, sha = blob
    key = blob_key(sha)
    assert not storage.exists(key)

    assert storage.put_file(key, path, "application/octet-stream") is True

    assert storage.exists(key)
    assert storage.size(key) == 300_000
    with storage.open(key) as stream:
        digest = hashlib.sha256()
        while chunk := stream.read(64 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == sha


def test_put_twice_is_idempotent(storage: Storage, blob: tuple[Path, str], tmp_path: Path) -> None:
    path, sha = blob
    key = blob_key(sha)
    assert storage.put_file(key, path, "image/jpeg") is True
    other, _ = write_file(tmp_path / "other.bin", b"different bytes")

    assert storage.put_file(key, other, "image/jpeg") is False

    assert storage.size(key) == 300_000


def test_variant_lives_beside_its_original(storage: Storage, blob: tuple[Path, str], tmp_path: Path) -> None:
    path, sha = blob
    thumb, _ = write_file(tmp_path / "thumb.jpg", b"thumb bytes")
    storage.put_file(blob_key(sha), path, "image/jpeg")

    storage.put_file(blob_key(sha, "thumb-256.jpg"), thumb, "image/jpeg")

    assert storage.size(blob_key(sha, "thumb-256.jpg")) == len(b"thumb bytes")
    assert storage.size(blob_key(sha)) == 300_000


def test_delete_removes_and_tolerates_missing(storage: Storage, blob: tuple[Path, str]) -> None:
    path, sha = blob
    key = blob_key(sha)
    storage.put_file(key, path, "image/jpeg")

    storage.delete(key)
    storage.delete(key)

    assert not storage.exists(key)


def test_missing_blob_raises_not_found(storage: Storage) -> None:
    with pytest.raises(BlobNotFound) as err:
        storage.open(blob_key(SHA))
    assert err.value.status == 404
    with pytest.raises(BlobNotFound):
        storage.size(blob_key(SHA))


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_method_rejects_invalid_keys(storage: Storage, blob: tuple[Path, str], key: str) -> None:
    path, _ = blob
    calls: list[Callable[[], Any]] = [
        lambda: storage.exists(key), lambda: storage.put_file(key, path, "image/jpeg"),
        lambda: storage.open(key), lambda: storage.size(key), lambda: storage.delete(key),
        lambda: storage.url(key, expires_in=60),
    ]
    for call in calls:
        with pytest.raises(InvalidMediaKey):
            call()


def test_large_file_round_trips(storage: Storage, tmp_path: Path) -> None:
    path, sha = write_file(tmp_path / "video.bin", os.urandom(20 * MiB))
    key = blob_key(sha)

    assert storage.put_file(key, path, "video/mp4") is True

    assert storage.size(key) == 20 * MiB
    with storage.open(key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == sha


# --- backend specifics -----------------------------------------------------------------------------------


def test_local_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path, blob: tuple[Path, str]) -> None:
    path, sha = blob
    storage = LocalStorage(tmp_path / "media")

    storage.put_file(blob_key(sha), path, "image/jpeg")

    folder = storage.path_for(blob_key(sha)).parent
    assert [p.name for p in folder.iterdir()] == [sha]
    assert storage.path_for(blob_key(sha)).read_bytes() == path.read_bytes()


def test_local_url_is_none_so_the_app_streams(tmp_path: Path) -> None:
    assert LocalStorage(tmp_path).url(blob_key(SHA), expires_in=300, filename="a.jpg") is None


def test_s3_multipart_upload_is_used_above_threshold(s3_client: Any, bucket_name: str, tmp_path: Path) -> None:
    storage = S3Storage(s3_client, bucket_name,
                        transfer_config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    storage.ensure_bucket()
    path, sha = write_file(tmp_path / "big.bin", os.urandom(20 * MiB))

    storage.put_file(blob_key(sha), path, "image/jpeg")

    head = s3_client.head_object(Bucket=bucket_name, Key=blob_key(sha))
    assert head["ETag"].strip('"').endswith("-4")  # four 5 MiB parts
    assert head["ContentType"] == "image/jpeg"
    assert "immutable" in head["CacheControl"]


def test_s3_presigned_url_serves_bytes_and_headers(s3_client: Any, bucket_name: str,
                                                   blob: tuple[Path, str]) -> None:
    storage = S3Storage(s3_client, bucket_name)
    storage.ensure_bucket()
    path, sha = blob
    storage.put_file(blob_key(sha), path, "application/octet-stream")

    url = storage.url(blob_key(sha), expires_in=300, filename="Baustelle Süd.jpg", content_type="image/jpeg")

    assert url is not None and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local moto endpoint
        body = response.read()
        headers = response.headers
    assert hashlib.sha256(body).hexdigest() == sha
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"] == content_disposition("Baustelle Süd.jpg")


def test_s3_url_rejects_expiry_beyond_seven_days(s3_client: Any) -> None:
    with pytest.raises(ValueError):
        S3Storage(s3_client, "any").url(blob_key(SHA), expires_in=8 * 24 * 3600)


# --- factory ---------------------------------------------------------------------------------------------


def test_factory_builds_local_storage(tmp_path: Path) -> None:
    storage = storage_from_config({"MEDIA_BACKEND": "local", "MEDIA_ROOT": str(tmp_path)})

    assert isinstance(storage, LocalStorage) and storage.root == tmp_path


def test_factory_builds_s3_storage_and_creates_bucket(s3_config: dict[str, Any], bucket_name: str,
                                                      blob: tuple[Path, str]) -> None:
    storage = storage_from_config({**s3_config, "S3_BUCKET": bucket_name, "S3_CREATE_BUCKET": "true"})
    path, sha = blob

    assert isinstance(storage, S3Storage)
    assert storage.put_file(blob_key(sha), path, "image/jpeg") is True
    assert storage.exists(blob_key(sha))


@pytest.mark.parametrize("config", [
    {"MEDIA_BACKEND": "ftp"},
    {"MEDIA_BACKEND": "local"},
    {"MEDIA_BACKEND": "s3"},
])
def test_factory_rejects_incomplete_config(config: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        storage_from_config(config)
