"""Pure Pillow functions: verify an uploaded image, read its metadata, make stripped copies and thumbnails."""
from __future__ import annotations

import io
import logging
import math
import re
import struct
import threading
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from media.errors import CorruptImage, ImageTooLarge, NotAnImage, UnsupportedImageType

log = logging.getLogger(__name__)

DEFAULT_ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})

DEFAULT_MAX_PIXELS = 64_000_000
"""Our own limit, checked from the header before any decoding: room for 48 MP phone photos (8064x6048),
below Pillow's global MAX_IMAGE_PIXELS (~89 MP), which we leave untouched (it is process-wide state)."""

THUMB_QUALITY = 85
SERVED_QUALITY = 90

# Exceptions Pillow's decoders raise on malformed input. Anything else is a bug and propagates.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error,
)

_ORIENTATION = ExifTags.Base.Orientation
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_EXIF_DATETIME_RE = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET_RE = re.compile(r"([+-])(\d{2}):?(\d{2})")
# (date/time tag, offset tag, IFD): DateTimeOriginal is when the shutter fired; the others are fallbacks.
_CAPTURE_TAGS: tuple[tuple[int, int, int | None], ...] = (
    (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal, ExifTags.IFD.Exif),
    (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized, ExifTags.IFD.Exif),
    (ExifTags.Base.DateTime, ExifTags.Base.OffsetTime, None),
)

_T = TypeVar("_T")

_heif_lock = threading.Lock()
_heif_registered = False


def register_heif() -> None:
    """Register pillow-heif's HEIF opener with Pillow, once, on first use (not at import)."""
    global _heif_registered
    if _heif_registered:
        return
    with _heif_lock:
        if not _heif_registered:
            from pillow_heif import register_heif_opener

            # Embedded thumbnails, depth maps and auxiliary images are never needed here.
            register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
            _heif_registered = True


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What `inspect_image` learned about a verified image.

    `width`/`height` are as displayed (after EXIF orientation). `captured_at` is an aware UTC datetime when
    the EXIF records the UTC offset (OffsetTimeOriginal) or the caller supplied `assume_tz`, else None; the
    camera's wall-clock reading is always kept, naive, in `captured_at_local`. A naive EXIF time is never
    guessed to be UTC: the server's zone says nothing about where the technician stood.
    """

    format: str
    mime_type: str
    width: int
    height: int
    orientation: int
    captured_at: datetime | None
    captured_at_local: datetime | None
    latitude: float | None
    longitude: float | None


def inspect_image(path: Path, *, allowed_formats: Collection[str] = DEFAULT_ALLOWED_FORMATS,
                  max_pixels: int = DEFAULT_MAX_PIXELS, assume_tz: tzinfo | None = None) -> ImageInfo:
    """Verify that `path` holds a complete image in an allowed format and read its metadata.

    The format comes from the bytes, never from the file name: a PNG named `.jpg` is reported as PNG.
    Raises NotAnImage (not an image at all), UnsupportedImageType (an image in another format),
    ImageTooLarge (width x height above `max_pixels`, checked before decoding) and CorruptImage
    (truncated or undecodable data).
    """
    formats = _formats(allowed_formats)
    # Pass 1: header, pixel limit and Pillow's structural check (PNG chunk CRCs, etc.). verify() leaves the
    # image unusable, hence a second open for the real decode.
    with _open(path, formats, max_pixels) as img:
        fmt = _format_name(img)
        _decode(img.verify, path)
    # Pass 2: metadata, then a full decode, which is what catches truncated JPEG/WebP/HEIF data.
    with _open(path, formats, max_pixels) as img:
        exif = _read_exif(img)
        orientation = _orientation(img, exif)
        width, height = img.size
        if orientation in _SWAPS_AXES and not _pixels_already_oriented(img):
            width, height = height, width
        captured_local, captured_at = _captured_at(exif, assume_tz)
        latitude, longitude = _gps(exif)
        if fmt == "JPEG":
            # DCT scaling still entropy-decodes every block (so truncation is caught) at 1/64 the memory.
            img.draft(img.mode, (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
        _decode(img.load, path)
    return ImageInfo(
        format=fmt, mime_type=_MIME.get(fmt) or Image.MIME.get(fmt, "application/octet-stream"),
        width=width, height=height, orientation=orientation,
        captured_at=captured_at, captured_at_local=captured_local, latitude=latitude, longitude=longitude,
    )


def make_variant(src_path: Path, dest_path: Path, *, max_side: int, quality: int = THUMB_QUALITY,
                 allowed_formats: Collection[str] = DEFAULT_ALLOWED_FORMATS,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Write a JPEG no larger than `max_side` on either side, upright, in sRGB, with no metadata at all.

    JPEG sources are decoded in draft mode: libjpeg scales by 1/2, 1/4 or 1/8 while decoding, which is
    several times faster and smaller than decoding full size and resizing. Returns the (width, height)
    written. Raises the same errors as `inspect_image`.
    """
    if max_side < 1:
        raise ValueError("max_side must be positive")
    with _open(src_path, _formats(allowed_formats), max_pixels) as img:
        if _format_name(img) == "JPEG":
            img.draft("RGB", (max_side, max_side))
        upright = _decode(lambda: ImageOps.exif_transpose(img), src_path)
    rgb = _to_srgb(upright)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _save_jpeg(rgb, dest_path, quality=quality)


def make_served_copy(src_path: Path, dest_path: Path, *, quality: int = SERVED_QUALITY,
                     allowed_formats: Collection[str] = DEFAULT_ALLOWED_FORMATS,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Write the full-size JPEG customers get: upright, sRGB, every metadata block dropped (EXIF with GPS,
    XMP, maker notes, non-sRGB ICC). The original keeps its metadata; `inspect_image` reads it as data."""
    with _open(src_path, _formats(allowed_formats), max_pixels) as img:
        upright = _decode(lambda: ImageOps.exif_transpose(img), src_path)
    return _save_jpeg(_to_srgb(upright), dest_path, quality=quality, progressive=True)


def naive_thumbnail(src_path: Path, dest_path: Path, max_side: int, *, quality: int = THUMB_QUALITY,
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Baseline for benchmarks: full-size decode, then one resize (no draft mode, no reducing gap)."""
    with _open(src_path, _formats(DEFAULT_ALLOWED_FORMATS), max_pixels) as img:
        _decode(img.load, src_path)  # once loaded, thumbnail() can no longer switch to draft mode
        upright = ImageOps.exif_transpose(img)
    rgb = _to_srgb(upright)
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=None)
    return _save_jpeg(rgb, dest_path, quality=quality)


# --- opening and decoding --------------------------------------------------------------------------------

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heif"}


def _formats(allowed: Iterable[str]) -> list[str]:
    formats = {f.upper() for f in allowed}
    if "HEIF" in formats:
        register_heif()
    return sorted(formats)


def _format_name(img: Image.Image) -> str:
    # The JPEG opener returns phone JPEGs with a multi-picture (depth/preview) segment as MPO; the primary
    # picture is an ordinary JPEG.
    return "JPEG" if img.format == "MPO" else str(img.format)


class _open:
    """Open `path` restricted to `formats`, enforce the pixel limit, map Pillow errors to MediaErrors."""

    def __init__(self, path: Path, formats: list[str], max_pixels: int) -> None:
        self.path, self.formats, self.max_pixels = Path(path), formats, max_pixels
        self.img: ImageFile.ImageFile | None = None

    def __enter__(self) -> ImageFile.ImageFile:
        try:
            img = Image.open(self.path, formats=self.formats)
        except Image.DecompressionBombError as err:
            raise ImageTooLarge(f"image exceeds the decoder's pixel limit: {err}") from err
        except UnidentifiedImageError:
            other = _identify(self.path)
            if other is not None:
                raise UnsupportedImageType(f"{other} images are not accepted", format=other) from None
            raise NotAnImage("the file is not an image") from None
        except _DECODE_ERRORS as err:
            raise CorruptImage(f"image header is unreadable: {err}") from err
        self.img = img
        width, height = img.size
        if width < 1 or height < 1 or width * height > self.max_pixels:
            img.close()
            raise ImageTooLarge(f"{width}x{height} exceeds the limit of {self.max_pixels} pixels",
                                width=width, height=height, max_pixels=self.max_pixels)
        return img

    def __exit__(self, *exc: object) -> None:
        if self.img is not None:
            self.img.close()


def _identify(path: Path) -> str | None:
    """Name of the image format of `path` among everything Pillow knows (header only), or None."""
    register_heif()
    try:
        with Image.open(path) as img:
            return str(img.format)
    except Image.DecompressionBombError:
        return "oversized"
    except _DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        return None


def _decode(action: Callable[[], _T], path: Path) -> _T:
    """Run a decoding step; malformed data becomes CorruptImage, a pixel-limit hit ImageTooLarge."""
    try:
        return action()
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"image exceeds the decoder's pixel limit: {err}") from err
    except _DECODE_ERRORS as err:
        log.info("corrupt image %s: %s", path.name, err)
        raise CorruptImage(f"image data is corrupt or truncated: {err}") from err


# --- metadata --------------------------------------------------------------------------------------------


def _read_exif(img: Image.Image) -> Image.Exif | None:
    # Broken EXIF never rejects a photo whose pixels decode; the metadata is then simply unknown.
    try:
        return img.getexif()
    except Exception as err:  # noqa: BLE001 - EXIF parsing of untrusted bytes fails in many ways
        log.info("unreadable EXIF ignored: %s", err)
        return None


def _ifd(exif: Image.Exif | None, tag: int | None) -> dict[int, Any]:
    if exif is None:
        return {}
    if tag is None:
        return dict(exif)
    try:
        return dict(exif.get_ifd(tag))
    except Exception as err:  # noqa: BLE001
        log.info("unreadable EXIF IFD %s ignored: %s", tag, err)
        return {}


def _pixels_already_oriented(img: Image.Image) -> bool:
    # pillow-heif applies the HEIF rotation/mirror while decoding, resets EXIF orientation to 1 and keeps
    # the original value in info["original_orientation"].
    return "original_orientation" in img.info


def _orientation(img: Image.Image, exif: Image.Exif | None) -> int:
    value = img.info.get("original_orientation") if _pixels_already_oriented(img) else None
    if value is None and exif is not None:
        value = exif.get(_ORIENTATION)
    try:
        orientation = int(value) if value is not None else 1
    except (TypeError, ValueError):
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ") or None


def _parse_exif_datetime(value: Any) -> datetime | None:
    text = _text(value)
    match = _EXIF_DATETIME_RE.match(text) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - wall clock, zone unknown
    except ValueError:  # 0000:00:00 00:00:00 and other placeholders
        return None


def _parse_exif_offset(value: Any) -> timezone | None:
    text = _text(value)
    match = _EXIF_OFFSET_RE.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _captured_at(exif: Image.Exif | None, assume_tz: tzinfo | None) -> tuple[datetime | None, datetime | None]:
    """(naive wall-clock capture time, aware UTC capture time or None). See ImageInfo."""
    for time_tag, offset_tag, ifd_tag in _CAPTURE_TAGS:
        ifd = _ifd(exif, ifd_tag)
        local = _parse_exif_datetime(ifd.get(time_tag))
        if local is None:
            continue
        # OffsetTime* always live in the Exif IFD, even for IFD0's DateTime.
        offset = _parse_exif_offset(_ifd(exif, ExifTags.IFD.Exif).get(offset_tag))
        zone = offset or assume_tz
        return local, (local.replace(tzinfo=zone).astimezone(UTC) if zone is not None else None)
    return None, None


def _gps_degrees(value: Any, ref: Any, limit: float, negative: str) -> float | None:
    try:
        parts = [float(part) for part in value] if isinstance(value, (tuple, list)) else [float(value)]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if (_text(ref) or "").upper().startswith(negative):
        degrees = -degrees
    return round(degrees, 7) if abs(degrees) <= limit else None


def _gps(exif: Image.Exif | None) -> tuple[float | None, float | None]:
    gps = _ifd(exif, ExifTags.IFD.GPSInfo)
    lat = _gps_degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), 90, "S")
    lon = _gps_degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), 180, "W")
    if lat is None or lon is None:
        return None, None
    return lat, lon


# --- output ----------------------------------------------------------------------------------------------


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    try:
        return "srgb" in ImageCms.getProfileDescription(profile).lower()
    except ImageCms.PyCMSError:
        return False


def _to_srgb(img: Image.Image) -> Image.Image:
    """An RGB image in sRGB: convert from an embedded colour profile (Display P3, CMYK, ...), then flatten
    transparency onto white. The result carries no profile, as sRGB is what viewers assume."""
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if not _is_srgb(source):
                out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
                converted = ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"),
                                                      outputMode=out_mode)
                if converted is not None:
                    img = converted
        except (ImageCms.PyCMSError, OSError, ValueError) as err:
            log.info("colour profile ignored: %s", err)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def _save_jpeg(img: Image.Image, dest_path: Path, *, quality: int, progressive: bool = False) -> tuple[int, int]:
    # `img` is always our own derived copy. Pillow's JPEG encoder writes EXIF, XMP and ICC only when passed
    # as save() arguments, but still falls back to info["comment"]: empty the info dict to be sure.
    img.info = {}
    img.save(dest_path, format="JPEG", quality=quality, optimize=True, progressive=progressive)
    return img.size
