"""Media fixtures: test images built in code, and a moto S3 server reached over real HTTP."""
from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from flask import Flask
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from media.images import register_heif

# Stored 64x48 (landscape) with orientation 6: displayed 48x64 (portrait).
RED, BLUE = (220, 20, 20), (20, 20, 220)
LATITUDE, LONGITUDE = 52.5200, -13.4050
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N"/>'
       b"</rdf:RDF></x:xmpmeta>")


def two_tone(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: after orientation 6 the red half is on top."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600 * 1000)
    return IFDRational(degrees), IFDRational(minutes), IFDRational(seconds, 1000)


def photo_exif(*, orientation: int = 6, offset: str | None = "+02:00", gps: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal] = "2024:05:06 14:30:00"
    if offset:
        exif_ifd[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if LATITUDE >= 0 else "S"
        gps_ifd[ExifTags.GPS.GPSLatitude] = _dms(LATITUDE)
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if LONGITUDE >= 0 else "W"
        gps_ifd[ExifTags.GPS.GPSLongitude] = _dms(LONGITUDE)
    return exif


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_1bit(width: int, height: int, *, full_data: bool) -> bytes:
    """A 1-bit greyscale PNG of zeros. With full_data, a valid, hugely compressible IDAT (a "zip bomb");
    without, just a header claiming the size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    if full_data:
        row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
        idat = b"".join(compressor.compress(row) for _ in range(height))
    else:
        idat = compressor.compress(bytes(64))
    idat += compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


@pytest.fixture
def images(tmp_path: Path) -> Callable[[str], Path]:
    """`images(name)` writes the named test file into tmp_path and returns its path."""
    def noisy(size: tuple[int, int]) -> Image.Image:
        return Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(size[0] * size[1] * 3)))

    def jpeg_bytes(img: Image.Image, **params: Any) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90, **params)
        return buf.getvalue()

    def heic(path: Path) -> None:
        register_heif()
        # EXIF as bytes: pillow-heif then stores the rotation as a HEIF `irot` box, as iPhones do.
        two_tone((64, 48)).save(path, format="HEIF", quality=90, exif=photo_exif().tobytes())

    builders: dict[str, Callable[[Path], object]] = {
        "oriented.jpg": lambda p: two_tone((64, 48)).save(
            p, format="JPEG", quality=95, exif=photo_exif(), xmp=XMP,
            icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()),
        "large-oriented.jpg": lambda p: two_tone((1600, 1200)).save(
            p, format="JPEG", quality=90, exif=photo_exif(), xmp=XMP),
        "no-offset.jpg": lambda p: two_tone((64, 48)).save(
            p, format="JPEG", exif=photo_exif(orientation=1, offset=None, gps=False)),
        "plain.png": lambda p: two_tone((40, 30)).save(p, format="PNG"),
        "alpha.png": lambda p: Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(p, format="PNG"),
        "plain.webp": lambda p: two_tone((40, 30)).save(p, format="WEBP", exif=photo_exif()),
        "iphone.heic": heic,
        "png-named.jpg": lambda p: two_tone((40, 30)).save(p, format="PNG"),
        "text.jpg": lambda p: p.write_text("definitely not a JPEG\n"),
        "empty.jpg": lambda p: p.write_bytes(b""),
        "anim.gif": lambda p: two_tone((40, 30)).save(p, format="GIF"),
        "truncated.jpg": lambda p: p.write_bytes(
            (data := jpeg_bytes(noisy((256, 256))))[: len(data) // 2]),
        "truncated.png": lambda p: p.write_bytes((data := _png_bytes(noisy((128, 128))))[: len(data) // 2]),
        "bad-crc.png": lambda p: p.write_bytes(_flip_idat_byte(_png_bytes(noisy((64, 64))))),
        "huge-header.png": lambda p: p.write_bytes(png_1bit(50_000, 50_000, full_data=False)),
        "bomb.png": lambda p: p.write_bytes(png_1bit(10_000, 10_000, full_data=True)),
    }

    def build(name: str) -> Path:
        path = tmp_path / name
        builders[name](path)
        return path

    return build


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _flip_idat_byte(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 4 + 10
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


# --- S3 over HTTP (moto server mode) ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, for the whole session: real HTTP, no patching."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_config(s3_endpoint: str) -> dict[str, Any]:
    return {
        "MEDIA_BACKEND": "s3", "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture(scope="session")
def s3_client(s3_config: dict[str, Any]) -> Any:
    return boto3.session.Session().client(
        "s3", endpoint_url=s3_config["S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest.fixture
def bucket_name() -> str:
    return f"media-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_app(app: Flask, database_url: str, s3_config: dict[str, Any], bucket_name: str) -> Iterator[Flask]:
    """A second app on the same database whose media live in a fresh bucket on the moto server."""
    config = TestConfig(database_url)
    for key, value in {**s3_config, "S3_BUCKET": bucket_name, "S3_CREATE_BUCKET": True}.items():
        setattr(config, key, value)
    s3_app = create_app(config)
    yield s3_app
    with s3_app.app_context():
        db.engine.dispose()
