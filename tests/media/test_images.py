"""Image verification, metadata and stripped copies (media.images, pure Pillow)."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.JpegImagePlugin import JpegImageFile

from media.errors import CorruptImage, ImageTooLarge, MediaError, NotAnImage, UnsupportedImageType
from media.images import ImageInfo, inspect_image, make_served_copy, make_variant, naive_thumbnail
from tests.media.conftest import BLUE, LATITUDE, LONGITUDE, RED

Images = Callable[[str], Path]


def assert_clean_jpeg(path: Path) -> Image.Image:
    """The file is a JPEG with no EXIF (so no GPS), no XMP, no ICC profile and no comment."""
    img = Image.open(path)
    assert img.format == "JPEG"
    exif = img.getexif()
    assert ExifTags.IFD.GPSInfo not in exif
    assert len(exif) == 0
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(img.info)
    assert b"GPS" not in path.read_bytes()
    return img


def close_to(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def assert_red_on_top(img: Image.Image) -> None:
    width, height = img.size
    rgb = img.convert("RGB")
    assert close_to(rgb.getpixel((width // 2, height // 8)), RED)
    assert close_to(rgb.getpixel((width // 2, height - 1 - height // 8)), BLUE)


# --- inspect_image ---------------------------------------------------------------------------------------


def test_inspect_jpeg_reads_orientation_capture_time_and_gps(images: Images) -> None:
    info = inspect_image(images("oriented.jpg"))

    assert info == ImageInfo(
        format="JPEG", mime_type="image/jpeg", width=48, height=64, orientation=6,
        captured_at=datetime(2024, 5, 6, 12, 30, tzinfo=UTC), captured_at_local=datetime(2024, 5, 6, 14, 30),
        latitude=info.latitude, longitude=info.longitude,
    )
    assert info.latitude == pytest.approx(LATITUDE, abs=1e-6)
    assert info.longitude == pytest.approx(LONGITUDE, abs=1e-6)
    assert info.captured_at is not None and info.captured_at.utcoffset() == timedelta(0)


def test_inspect_without_utc_offset_keeps_wall_clock_only(images: Images) -> None:
    info = inspect_image(images("no-offset.jpg"))

    assert info.captured_at is None
    assert info.captured_at_local == datetime(2024, 5, 6, 14, 30)
    assert (info.latitude, info.longitude, info.orientation) == (None, None, 1)
    assert (info.width, info.height) == (64, 48)


def test_inspect_without_utc_offset_uses_assumed_zone(images: Images) -> None:
    info = inspect_image(images("no-offset.jpg"), assume_tz=timezone(timedelta(hours=-5)))

    assert info.captured_at == datetime(2024, 5, 6, 19, 30, tzinfo=UTC)


@pytest.mark.parametrize(("name", "fmt", "mime", "size"), [
    ("plain.png", "PNG", "image/png", (40, 30)),
    ("plain.webp", "WEBP", "image/webp", (30, 40)),  # WebP carries the orientation-6 EXIF too
    ("iphone.heic", "HEIF", "image/heif", (48, 64)),
])
def test_inspect_accepts_png_webp_heic(images: Images, name: str, fmt: str, mime: str,
                                       size: tuple[int, int]) -> None:
    info = inspect_image(images(name))

    assert (info.format, info.mime_type, (info.width, info.height)) == (fmt, mime, size)


def test_inspect_heic_reports_original_orientation_and_metadata(images: Images) -> None:
    info = inspect_image(images("iphone.heic"))

    assert info.orientation == 6
    assert info.captured_at == datetime(2024, 5, 6, 12, 30, tzinfo=UTC)
    assert info.latitude == pytest.approx(LATITUDE, abs=1e-6)


def test_inspect_detects_format_from_bytes_not_name(images: Images) -> None:
    info = inspect_image(images("png-named.jpg"))

    assert (info.format, info.mime_type) == ("PNG", "image/png")


@pytest.mark.parametrize("name", ["text.jpg", "empty.jpg"])
def test_inspect_refuses_non_image(images: Images, name: str) -> None:
    with pytest.raises(NotAnImage) as err:
        inspect_image(images(name))

    assert (err.value.status, err.value.code) == (415, "not_an_image")


def test_inspect_refuses_other_image_format(images: Images) -> None:
    with pytest.raises(UnsupportedImageType) as err:
        inspect_image(images("anim.gif"))

    assert not isinstance(err.value, NotAnImage)
    assert (err.value.status, err.value.code, err.value.extra) == (415, "unsupported_image_type", {"format": "GIF"})


def test_inspect_respects_allowed_formats(images: Images) -> None:
    with pytest.raises(UnsupportedImageType):
        inspect_image(images("plain.png"), allowed_formats={"JPEG"})


@pytest.mark.parametrize("name", ["truncated.jpg", "truncated.png", "bad-crc.png"])
def test_inspect_refuses_corrupt_data(images: Images, name: str) -> None:
    with pytest.raises(CorruptImage) as err:
        inspect_image(images(name))

    assert (err.value.status, err.value.code) == (422, "corrupt_image")


def test_inspect_refuses_huge_header_without_decoding(images: Images) -> None:
    path = images("huge-header.png")
    assert path.stat().st_size < 1024

    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as err:
        inspect_image(path)

    assert time.perf_counter() - started < 1
    assert (err.value.status, err.value.code) == (422, "image_too_large")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_inspect_refuses_compressed_bomb_by_own_pixel_limit(images: Images) -> None:
    path = images("bomb.png")  # 10,000 x 10,000 valid pixels: over our 64 MP, under Pillow's hard limit
    assert path.stat().st_size < 100_000

    with pytest.raises(ImageTooLarge) as err:
        inspect_image(path)

    assert err.value.extra == {"width": 10_000, "height": 10_000, "max_pixels": 64_000_000}


def test_inspect_pixel_limit_is_a_parameter(images: Images) -> None:
    with pytest.raises(ImageTooLarge):
        inspect_image(images("plain.png"), max_pixels=40 * 30 - 1)
    assert inspect_image(images("plain.png"), max_pixels=40 * 30).width == 40


def test_media_errors_are_independent_of_fieldservice() -> None:
    assert MediaError.__mro__[1] is Exception
    assert "fieldservice" not in MediaError.__module__


# --- make_variant / make_served_copy / naive_thumbnail ---------------------------------------------------


def test_variant_is_oriented_small_and_stripped(images: Images, tmp_path: Path) -> None:
    dest = tmp_path / "thumb.jpg"

    size = make_variant(images("large-oriented.jpg"), dest, max_side=256)

    assert size == (192, 256)
    img = assert_clean_jpeg(dest)
    assert img.size == (192, 256)
    assert_red_on_top(img)


def test_variant_uses_jpeg_draft_mode(images: Images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, tuple[int, int] | None]] = []
    original = JpegImageFile.draft

    def spy(self: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        calls.append((mode, size))
        return original(self, mode, size)

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    make_variant(images("large-oriented.jpg"), tmp_path / "t.jpg", max_side=200)

    assert calls[0] == ("RGB", (200, 200))


def test_variant_never_upscales(images: Images, tmp_path: Path) -> None:
    assert make_variant(images("oriented.jpg"), tmp_path / "t.jpg", max_side=1024) == (48, 64)


@pytest.mark.parametrize("name", ["oriented.jpg", "plain.png", "alpha.png", "plain.webp", "iphone.heic"])
def test_variant_from_every_accepted_format_is_a_clean_jpeg(images: Images, tmp_path: Path, name: str) -> None:
    dest = tmp_path / "t.jpg"

    make_variant(images(name), dest, max_side=32)

    assert max(assert_clean_jpeg(dest).size) == 32


@pytest.mark.parametrize("name", ["oriented.jpg", "iphone.heic"])
def test_served_copy_is_full_size_oriented_without_location(images: Images, tmp_path: Path, name: str) -> None:
    dest = tmp_path / "served.jpg"

    assert make_served_copy(images(name), dest) == (48, 64)

    img = assert_clean_jpeg(dest)
    assert img.size == (48, 64)
    assert_red_on_top(img)


def test_original_keeps_its_gps(images: Images, tmp_path: Path) -> None:
    src = images("oriented.jpg")
    make_served_copy(src, tmp_path / "served.jpg")

    assert ExifTags.IFD.GPSInfo in Image.open(src).getexif()


@pytest.mark.parametrize("name", ["truncated.jpg", "text.jpg"])
def test_variant_refuses_what_inspect_refuses(images: Images, tmp_path: Path, name: str) -> None:
    with pytest.raises((CorruptImage, NotAnImage)):
        make_variant(images(name), tmp_path / "t.jpg", max_side=64)
    assert not (tmp_path / "t.jpg").exists()


def test_naive_thumbnail_matches_variant_geometry(images: Images, tmp_path: Path) -> None:
    src = images("large-oriented.jpg")

    size = naive_thumbnail(src, tmp_path / "naive.jpg", 256)

    assert size == make_variant(src, tmp_path / "fast.jpg", max_side=256) == (192, 256)
    assert_red_on_top(assert_clean_jpeg(tmp_path / "naive.jpg"))
