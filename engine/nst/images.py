"""Image input and output for the engine: untrusted bytes in, clean 8-bit sRGB out.

What `open_image` accepts, and why:

- JPEG, PNG and WebP only, recognised by their content (Pillow's detector, restricted to those
  three), never by the file name. Anything else gets an ImageError naming the accepted formats,
  and the format we think it is when we can tell (GIF, HEIC, TIFF, PDF, SVG/HTML...).
- Animated PNG (APNG) and animated WebP: the first frame is used, which is what a still-image
  viewer shows. Refusing them would turn away many ordinary "sticker" WebPs for no gain.
  (Multi-picture JPEGs, "MPO", from some cameras are JPEGs: same rule, first picture.)
- The pixel count is checked from the header, before any pixel is decoded: `max_pixels` per
  call, and Pillow's own decompression-bomb guard (its warning as well as its error) becomes an
  ImageError. Pillow's global limits are never changed.
- Truncated or damaged files are decoded fully here (Pillow is lazy), so they fail here with a
  clear message rather than later inside TensorFlow.
- The result is always 8-bit RGB: EXIF orientation applied; transparency composited onto white;
  palette, greyscale, 16-bit and CMYK converted; an embedded RGB or CMYK ICC profile (Display P3
  phone photos, print CMYK JPEGs) converted to sRGB, because every output is written without a
  profile and browsers then read it as sRGB.

Thread safety: Pillow's bomb guard reports through `warnings`, and `warnings.catch_warnings` is
process-global state, so two threads opening images at the same instant could see each other's
filter. The engine runs in one thread per worker process, and Django runs sync views on one thread
under ASGI, so this is acceptable; the size check that matters (`max_pixels`) does not depend on it.
"""

from __future__ import annotations

import io
import os
import re
import struct
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from engine.nst.errors import ImageError, ParameterError

# 50 megapixels: a 48 MP phone photo opens; decoded, that is ~150 MB of RGB, which a worker can hold.
MAX_PIXELS = 50_000_000
# What the engine itself writes can be larger: fast mode's print sizes go up to 8192 px on the long
# side (8192x6144 for a 4:3 photo is 50.3 MP). For reading results back (gallery thumbnails), not uploads.
MAX_RESULT_PIXELS = 8192 * 8192
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
ACCEPTED_TEXT = "JPEG, PNG or WebP"
_FORMAT_NAMES = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP"}

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

# Errors Pillow raises for damaged data, besides OSError ("image file is truncated", ...).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)

# File signatures, for a message that says what the file is. Offsets are from the start.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (8, b"WEBP", "WebP"),
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"%PDF", "PDF"),
    (0, b"8BPS", "Photoshop (PSD)"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
)


def _sniff(prefix: bytes) -> str | None:
    """What the first bytes say the file is, or None."""
    for offset, magic, name in _SIGNATURES:
        if prefix[offset:offset + len(magic)] == magic:
            if name == "WebP" and not prefix.startswith(b"RIFF"):
                continue
            return name
    text = prefix.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "SVG/XML"
    if text.startswith((b"<!doctype", b"<html")):
        return "HTML"
    return None


def _damaged(kind: str, *, starts_like: bool = False) -> ImageError:
    what = f"file starts like a {kind} image but" if starts_like else f"{kind} file"
    return ImageError(f"The {what} is damaged or incomplete, so it cannot be read. "
                      "Please upload it again, or open and re-save it in an image editor.")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"


def _too_large(width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(
        f"The image is {width}×{height} pixels; the limit is {_megapixels(max_pixels)} megapixels. "
        "Please scale it down and upload it again."
    )


def _as_stream(source: ImageSource) -> tuple[BinaryIO, bool]:
    """A seekable binary stream for `source`, and whether we opened it (and must close it)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return open(path, "rb"), True
        except FileNotFoundError:
            raise ImageError(f"There is no file {path}.") from None
        except IsADirectoryError:
            raise ImageError(f"{path} is a folder, not an image file.") from None
        except OSError as exc:
            raise ImageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if hasattr(source, "read"):
        try:
            source.seek(0)
            return source, False
        except (AttributeError, OSError, io.UnsupportedOperation):
            return io.BytesIO(source.read()), True  # a pipe or socket: buffer it
    raise TypeError(f"open_image takes a path, bytes or a binary file, not {type(source).__name__}")


def open_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> Image.Image:
    """Decode an uploaded or local image into a fully loaded 8-bit RGB image (see module notes).

    With `max_side`, an image larger than that comes back shrunk to `max_side` on its longest side,
    and never exists in memory as more than its decoded pixels (see `probe` and _shrink): a JPEG is
    decoded at 1/2, 1/4 or 1/8 of its size where that is still large enough (libjpeg's DCT scaling),
    and every format is then converted and reduced a band of rows at a time.

    Raises ImageError with a message for the user when the file is not usable."""
    stream, owned = _as_stream(source)
    try:
        prefix = stream.read(32)
        stream.seek(0)
        if not prefix:
            raise ImageError("The file is empty.")
        img = _open_checked(stream, prefix, max_pixels)
        with img:
            if max_side is not None:
                _decode_smaller(img, max_side)
            try:
                img.load()  # the first frame only, for animations
            except Image.DecompressionBombError as exc:
                raise _bomb_error(exc, img.size, max_pixels) from None
            except _DECODE_ERRORS as exc:
                raise _damaged(_FORMAT_NAMES.get(img.format or "", "image")) from exc
            if max_side is None or max(img.size) <= max_side:
                return to_rgb(_upright(img))
            return _transposed(_shrink(img, max_side), _orientation(img))
    finally:
        if owned:
            stream.close()


def probe(source: ImageSource, *, max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> tuple[int, int]:
    """(width, height) of an image from its header alone, with open_image's checks of the format
    and the pixel limit (the same ImageError), and no pixel decoded: what a check that must come
    before any decoding (a budget of pixels per request) can afford. With `max_side`, the size
    open_image(max_side=...) decodes it at (a large JPEG at 1/2 to 1/8 scale; other formats whole)."""
    stream, owned = _as_stream(source)
    try:
        prefix = stream.read(32)
        stream.seek(0)
        if not prefix:
            raise ImageError("The file is empty.")
        with _open_checked(_Borrowed(stream), prefix, max_pixels) as img:
            if max_side is not None:
                _decode_smaller(img, max_side)  # sets the decoder's scale; decodes nothing
            return img.size
    finally:
        if owned:
            stream.close()
        else:
            stream.seek(0)  # for whoever reads the file next


class _Borrowed:
    """The caller's file, for Pillow to read a header from: Pillow closes the file it was given
    when its image is closed, and this one still has to be decoded afterwards."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        pass


# Pixels converted at once when shrinking: the copies a conversion makes (alpha compositing, a
# colour profile, the RGB result) are of one band, not of the whole image.
_BAND_PIXELS = 1_000_000


def _decode_smaller(img: Image.Image, max_side: int) -> None:
    """Ask the decoder for a smaller image where the format allows it: JPEG decodes at 1/2, 1/4
    or 1/8 scale, the largest reduction that still leaves both sides at least their size once
    shrunk to max_side. Other formats ignore it (PNG and WebP decode whole)."""
    if img.format not in ("JPEG", "MPO"):
        return
    width, height = img.size
    scale = max_side / max(width, height)
    if scale < 1:
        img.draft(None, (max(1, int(width * scale) + 1), max(1, int(height * scale) + 1)))


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """A loaded image larger than max_side, as 8-bit RGB with its longest side max_side. It is
    converted (to_rgb: transparency onto white, profile, palette, 16-bit) and box-reduced by the
    largest whole factor that keeps it at least max_side, one band of rows at a time; then
    resampled (LANCZOS) to the exact size. Compositing onto white before averaging is what
    averaging premultiplied colours and then compositing gives, so edges stay right."""
    width, height = img.size
    factor = max(1, max(width, height) // max_side)
    rows = max(factor, _BAND_PIXELS // width // factor * factor)
    out = Image.new("RGB", ((width + factor - 1) // factor, (height + factor - 1) // factor))
    for top in range(0, height, rows):
        band = to_rgb(img.crop((0, top, width, min(height, top + rows))))
        out.paste(band.reduce(factor) if factor > 1 else band, (0, top // factor))
    return resize_longest(out, max_side) if max(out.size) != max_side else out


# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1: as stored); malformed EXIF counts as 1 (see _upright)."""
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - see _upright
        return 1


def _transposed(img: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return img.transpose(method) if method is not None else img


def _open_checked(stream: BinaryIO, prefix: bytes, max_pixels: int) -> Image.Image:
    """Identify the format and read the header, without decoding pixels; refuse what is too large."""
    kind = _sniff(prefix)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(stream, formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb_error(exc, None, max_pixels) from None
        except UnidentifiedImageError:
            if kind in _FORMAT_NAMES.values():
                raise _damaged(kind, starts_like=True) from None
            what = f" (it looks like {kind})" if kind else ""
            raise ImageError(f"The file is not a {ACCEPTED_TEXT} image{what}. "
                             f"Please convert it to one of those formats.") from None
        except _DECODE_ERRORS as exc:
            raise _damaged(kind or "image") from exc
    width, height = img.size
    if width < 1 or height < 1:
        img.close()
        raise ImageError("The image has no pixels (its width or height is 0).")
    if width * height > max_pixels:
        img.close()
        raise _too_large(width, height, max_pixels)
    return img


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation. EXIF blocks are often malformed in ways Pillow's parser trips
    on (many exception types); the pixels are still fine, so then the image is used as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - see docstring
        return img.copy()


def _bomb_error(exc: Exception, size: tuple[int, int] | None, max_pixels: int) -> ImageError:
    """Pillow's guard fired: its own limit was the one that counted, so that is the one to quote."""
    max_pixels = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if size is not None:
        return _too_large(size[0], size[1], max_pixels)
    match = re.search(r"\((\d+) pixels\)", str(exc))
    claimed = f"{_megapixels(int(match.group(1)))} megapixels" if match else "too many pixels"
    return ImageError(
        f"The image claims {claimed}; the limit is {_megapixels(max_pixels)} megapixels. "
        "Please scale it down and upload it again."
    )


_RGB_SOURCES = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "YCbCr")
_GREY16 = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit sRGB, transparency composited onto white. Returns a new image
    with no metadata left in `info` (its profile, if any, has been applied)."""
    mode, icc = img.mode, img.info.get("icc_profile")
    if mode in _GREY16 or mode == "F":
        # 16-bit greyscale (PNG): scale 0..65535 to 0..255. Pillow's own convert("L") clips instead.
        scale = 255.0 / 65535.0 if mode in _GREY16 else 1.0
        grey = np.nan_to_num(np.asarray(img, dtype=np.float64)) * scale
        out = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).convert("RGB")
    elif mode == "CMYK":
        out = _via_profile(img, icc) or img.convert("RGB")
    else:
        if "A" in mode or "a" in mode or "transparency" in img.info:
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            flat = Image.alpha_composite(white, img.convert("RGBA")).convert("RGB")
        else:
            flat = img.convert("RGB")
        # Compositing onto white before applying the profile is fine: profiles map white to white.
        out = (_via_profile(flat, icc) if mode in _RGB_SOURCES else None) or flat
    out.info = {}
    return out


def _via_profile(img: Image.Image, icc: bytes | None) -> Image.Image | None:
    """`img` (RGB or CMYK pixels) converted to sRGB through the ICC profile it came with; None when
    there is no profile or it does not fit the pixels: the caller then takes the data as sRGB."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != ("CMYK" if img.mode == "CMYK" else "RGB"):
            return None
        return ImageCms.profileToProfile(img, profile, _srgb_profile(), outputMode="RGB")
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        return None  # broken profiles are common enough; the pixels are still usable as they are


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def resize_longest(img: Image.Image, max_side: int) -> Image.Image:
    """Resize (up or down) so the longest side is exactly max_side, keeping the aspect ratio.
    LANCZOS; `reducing_gap` makes large reductions fast at no visible cost."""
    if int(max_side) < 1:
        raise ParameterError(f"The image size must be at least 1 pixel, not {max_side}.")
    max_side = int(max_side)
    width, height = img.size
    longest = max(width, height)
    if longest == max_side:
        return img.copy()
    size = (max(1, int(width * max_side / longest + 0.5)), max(1, int(height * max_side / longest + 0.5)))
    size = (max_side, size[1]) if width >= height else (size[0], max_side)
    gap = 3.0 if max_side < longest else None
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)


def to_array(img: Image.Image) -> np.ndarray:
    """HxWx3 float32 in [0, 1]."""
    if img.mode != "RGB":
        img = to_rgb(img)
    return np.asarray(img, dtype=np.float32) / np.float32(255.0)


def load_array(source: ImageSource, max_side: int, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """open_image + resize_longest + to_array: what the engine feeds its networks."""
    return to_array(resize_longest(open_image(source, max_pixels=max_pixels), max_side))


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 from a float image in [0, 1] (clipped, rounded; NaN becomes 0).
    A leading batch axis of size 1 ([1, H, W, 3], as TensorFlow hands it back) is dropped."""
    arr = np.asarray(arr)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 image array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0)
    return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


def _as_rgb_image(arr_or_img: np.ndarray | Image.Image) -> Image.Image:
    """A fresh RGB image with no metadata (no EXIF, ICC, text chunks) from an array or an image."""
    if isinstance(arr_or_img, Image.Image):
        return Image.fromarray(np.asarray(to_rgb(arr_or_img), dtype=np.uint8))
    return Image.fromarray(to_uint8(arr_or_img))


def encode_png(arr_or_img: np.ndarray | Image.Image) -> bytes:
    """PNG bytes without metadata."""
    buf = io.BytesIO()
    _as_rgb_image(arr_or_img).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def encode_jpeg(arr_or_img: np.ndarray | Image.Image, quality: int = 85,
                max_side: int | None = None) -> bytes:
    """JPEG bytes without metadata, for previews. With max_side, images larger than that are
    shrunk so their longest side is max_side; smaller ones are never enlarged."""
    img = _as_rgb_image(arr_or_img)
    if max_side is not None and max(img.size) > max_side:
        img = resize_longest(img, max_side)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality), optimize=True)
    return buf.getvalue()


def save_png(arr_or_img: np.ndarray | Image.Image, path: str | os.PathLike) -> Path:
    """Write a PNG atomically (temporary file, then rename), so a reader never sees half a file.
    Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode_png(arr_or_img)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
