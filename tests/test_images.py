"""engine.nst.images: what uploads are accepted, how they are normalised, and how results are written.

Bad inputs are built here with Pillow or by hand, byte by byte; the real photos come from the
shared images folder, opened at tiny sizes."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from engine.nst import images
from engine.nst.errors import ImageError, ParameterError
from tests.crafted_images import encode, png_chunk

ACCEPTED = "JPEG, PNG or WebP"


# --- helpers -------------------------------------------------------------------------------------

def raw_png(width: int, height: int, bit_depth: int, color_type: int, idat: bytes) -> bytes:
    """A PNG written by hand, so the header can say anything (sizes Pillow would not write)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def png_chunk_types(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def pixel(img: Image.Image, xy: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
    return img.getpixel(xy)


def assert_close(actual, expected, tol: int = 3) -> None:
    assert all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True)), (actual, expected)


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red and blue primaries are swapped: through it, stored red is blue.
    Made from Pillow's built-in sRGB profile by swapping two tag offsets in its tag table."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", data[128:132])
    entries = {bytes(data[132 + 12 * i:136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    data[red + 4:red + 12], data[blue + 4:blue + 12] = data[blue + 4:blue + 12], data[red + 4:red + 12]
    return bytes(data)


@pytest.fixture
def photo_bytes(images_dir: Path) -> bytes:
    """A real JPEG photo, small enough to be quick (160 px)."""
    img = Image.open(images_dir / "tubingen.jpg")
    img.thumbnail((160, 160))
    return encode(img, "JPEG", quality=90)


# --- accepted formats, by content ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_recognises_the_format_by_content_not_by_name(tmp_path, fmt):
    path = tmp_path / "named-wrongly.jpg" if fmt != "JPEG" else tmp_path / "named-wrongly.png"
    extra = {"lossless": True} if fmt == "WEBP" else {}
    path.write_bytes(encode(Image.new("RGB", (30, 20), (200, 40, 10)), fmt, **extra))
    img = images.open_image(path)
    assert (img.mode, img.size) == ("RGB", (30, 20))
    assert_close(pixel(img, (15, 10)), (200, 40, 10), tol=4)


def test_it_accepts_paths_as_str_bytes_and_file_objects(tmp_path, photo_bytes):
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo_bytes)
    from_bytes = images.open_image(photo_bytes)
    with open(path, "rb") as fh:
        fh.read(5)  # a half-read upload must still work: the reader starts at 0
        from_file = images.open_image(fh)
        assert not fh.closed  # the caller's file stays the caller's
    for other in (images.open_image(str(path)), images.open_image(path), from_file,
                  images.open_image(bytearray(photo_bytes)), images.open_image(io.BytesIO(photo_bytes))):
        assert np.array_equal(np.asarray(other), np.asarray(from_bytes))


def test_it_reads_a_stream_that_cannot_seek(photo_bytes):
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._buf = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self._buf.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    expected = np.asarray(images.open_image(photo_bytes))
    assert np.array_equal(np.asarray(images.open_image(io.BufferedReader(Pipe(photo_bytes)))), expected)


def test_it_opens_each_shared_photo(images_dir):
    photos = sorted(images_dir.glob("*.jpg"))
    assert photos, f"no JPEG photos in {images_dir}"
    for path in photos:
        arr = images.load_array(path, 32)
        assert arr.dtype == np.float32 and arr.shape[2] == 3 and max(arr.shape[:2]) == 32, path.name
        assert 0.0 <= arr.min() < arr.max() <= 1.0


# --- refused files, each with a message the user can act on ---------------------------------------

def _other_formats() -> dict[str, bytes]:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "GIF": gif,
        "BMP": encode(Image.new("RGB", (8, 8)), "BMP"),
        "TIFF": encode(Image.new("RGB", (8, 8)), "TIFF"),
        "PDF": encode(Image.new("RGB", (8, 8)), "PDF"),
        "ICO": encode(Image.new("RGB", (16, 16)), "ICO"),
        "HEIC": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "SVG/XML": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>',
        "HTML": b"<!DOCTYPE html><html><body><img src='cat.jpg'></body></html>",
        "text": b"just some text, not a picture\n" * 10,
    }


@pytest.mark.parametrize("kind", list(_other_formats()))
def test_it_refuses_other_formats_and_names_the_accepted_ones(tmp_path, kind):
    path = tmp_path / "upload.jpg"  # the name says JPEG; the content decides
    path.write_bytes(_other_formats()[kind])
    with pytest.raises(ImageError) as caught:
        images.open_image(path)
    message = str(caught.value)
    assert message.startswith(f"The file is not a {ACCEPTED} image")
    if kind != "text":
        assert f"it looks like {kind}" in message


@pytest.mark.parametrize("source", [b"", "empty-file"])
def test_it_refuses_an_empty_file(tmp_path, source):
    if source == "empty-file":
        source = tmp_path / "empty.png"
        source.write_bytes(b"")
    with pytest.raises(ImageError, match=r"^The file is empty\.$"):
        images.open_image(source)


def test_it_says_when_the_file_does_not_exist(tmp_path):
    with pytest.raises(ImageError, match="There is no file .*missing.jpg"):
        images.open_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        images.open_image(tmp_path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_refuses_a_truncated_file(photo_bytes, fmt):
    data = encode(Image.open(io.BytesIO(photo_bytes)), fmt)
    with pytest.raises(ImageError, match="damaged or incomplete"):
        images.open_image(data[: len(data) * 2 // 3])


def test_it_refuses_a_file_with_only_a_png_signature():
    with pytest.raises(ImageError, match="^The file starts like a PNG image but is damaged or incomplete"):
        images.open_image(b"\x89PNG\r\n\x1a\n" + bytes(20))


# --- size limits: checked from the header, before decoding --------------------------------------

def test_it_refuses_more_pixels_than_the_limit_with_the_size_in_the_message():
    data = encode(Image.new("RGB", (300, 200)), "PNG")
    with pytest.raises(ImageError) as caught:
        images.open_image(data, max_pixels=50_000)
    assert str(caught.value).startswith("The image is 300×200 pixels; the limit is 0.05 megapixels.")
    assert images.open_image(data, max_pixels=60_000).size == (300, 200)


def test_it_checks_the_size_before_decoding_any_pixel():
    # The header says 3000x3000, the pixel data is garbage: decoding would fail with "damaged".
    # Getting the size message proves the size was refused from the header alone.
    data = raw_png(3000, 3000, 8, 2, zlib.compress(b"not pixels"))
    with pytest.raises(ImageError, match=r"^The image is 3000×3000 pixels; the limit is 1 megapixels"):
        images.open_image(data, max_pixels=1_000_000)
    with pytest.raises(ImageError, match="damaged or incomplete"):
        images.open_image(data, max_pixels=10_000_000)


def test_it_refuses_a_decompression_bomb_without_decoding_it():
    # 30000x30000 claimed by a 70-byte file: Pillow's own guard fires, even with a huge max_pixels.
    bomb = raw_png(30000, 30000, 8, 2, zlib.compress(b"\x00" * 100))
    assert len(bomb) < 200
    limit_before, filters_before = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with pytest.raises(ImageError) as caught:
        images.open_image(bomb)
    assert str(caught.value).startswith("The image claims 900 megapixels; the limit is 50 megapixels.")
    with pytest.raises(ImageError, match=r"^The image claims 900 megapixels"):
        images.open_image(bomb, max_pixels=10**10)
    assert Image.MAX_IMAGE_PIXELS == limit_before and warnings.filters == filters_before


def test_pillows_bomb_warning_becomes_an_image_error_too():
    # Between Pillow's warning (89 MP) and error (179 MP) thresholds: still refused, not just warned.
    data = raw_png(10_000, 10_000, 8, 2, zlib.compress(b"\x00" * 100))
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match=r"^The image claims 100 megapixels; the limit is 89.5 megapix"):
            images.open_image(data, max_pixels=10**10)
    assert [w.message for w in escaped] == []


# --- modes: everything becomes 8-bit RGB ---------------------------------------------------------

def test_cmyk_is_converted_to_rgb():
    data = encode(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    img = images.open_image(data)
    assert img.mode == "RGB"
    assert_close(pixel(img), (0, 255, 255))


def test_a_palette_image_with_transparency_gets_a_white_background():
    pal = Image.new("P", (4, 2), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    pal.putpixel((3, 1), 1)
    img = images.open_image(encode(pal, "PNG", transparency=0))
    assert img.mode == "RGB"
    assert pixel(img, (0, 0)) == (255, 255, 255)  # transparent black -> white
    assert pixel(img, (3, 1)) == (255, 0, 0)


def test_a_palette_image_without_transparency_keeps_its_colours():
    pal = Image.new("P", (2, 2), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * (254 * 3))
    assert pixel(images.open_image(encode(pal, "PNG"))) == (10, 200, 30)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_alpha_is_composited_onto_white(fmt):
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 128))
    img = images.open_image(encode(rgba, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    assert img.mode == "RGB"
    assert pixel(img, (0, 0)) == (255, 255, 255)
    assert_close(pixel(img, (1, 0)), (127, 127, 127), tol=1)


def test_grey_with_alpha_is_composited_onto_white():
    la = Image.new("LA", (2, 1), (0, 0))
    la.putpixel((1, 0), (50, 255))
    img = images.open_image(encode(la, "PNG"))
    assert (pixel(img, (0, 0)), pixel(img, (1, 0))) == ((255, 255, 255), (50, 50, 50))


@pytest.mark.parametrize("mode, value, expected", [("L", 77, 77), ("1", 1, 255), ("1", 0, 0)])
def test_greyscale_becomes_grey_rgb(mode, value, expected):
    img = images.open_image(encode(Image.new(mode, (3, 3), value), "PNG"))
    assert (img.mode, pixel(img)) == ("RGB", (expected,) * 3)


def test_16_bit_greyscale_is_scaled_to_8_bit():
    grey = np.array([[0, 1000, 32896, 65535]], dtype=np.uint16)  # 32896 = 128 * 257
    data = encode(Image.fromarray(grey), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    img = images.open_image(data)
    assert [pixel(img, (x, 0)) for x in range(4)] == [(0, 0, 0), (4, 4, 4), (128, 128, 128), (255, 255, 255)]


def test_16_bit_rgb_is_reduced_to_8_bit():
    row = struct.pack(">HHH", 0xFFFF, 0x8080, 0x0000)
    img = images.open_image(raw_png(1, 1, 16, 2, zlib.compress(b"\x00" + row)))
    assert (img.mode, pixel(img)) == ("RGB", (255, 128, 0))


def test_exif_orientation_is_applied():
    # Stored 40x20, left half red; orientation 6 means "rotate 90° clockwise to display",
    # so the displayed image is 20x40 with red on top.
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    img = images.open_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert img.size == (20, 40)
    assert_close(pixel(img, (10, 5)), (255, 0, 0), tol=8)
    assert_close(pixel(img, (10, 35)), (0, 0, 255), tol=8)
    assert "exif" not in img.info


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_an_animation_gives_its_first_frame(fmt):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **extra)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    assert_close(pixel(images.open_image(data)), (255, 0, 0), tol=2)


def test_an_embedded_icc_profile_is_converted_to_srgb():
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert_close(pixel(images.open_image(encode(red, "PNG", icc_profile=srgb))), (255, 0, 0), tol=1)
    # Through a profile whose red primary is sRGB's blue, stored red is displayed blue.
    shown = pixel(images.open_image(encode(red, "PNG", icc_profile=swapped_primaries_profile())))
    assert shown[2] > 200 and shown[0] < 60, shown


def test_a_broken_or_mismatched_icc_profile_is_ignored():
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    for icc in (b"not a profile", lab):
        assert pixel(images.open_image(encode(red, "PNG", icc_profile=icc))) == (255, 0, 0)


# --- resizing and arrays ------------------------------------------------------------------------

@pytest.mark.parametrize("size, max_side, expected", [
    ((1024, 768), 100, (100, 75)),
    ((768, 1024), 100, (75, 100)),
    ((30, 20), 300, (300, 200)),     # enlarges too: the engine asks for an exact working size
    ((1000, 1), 10, (10, 1)),        # never 0 pixels
    ((64, 64), 64, (64, 64)),
])
def test_resize_longest_gives_exactly_the_longest_side(size, max_side, expected):
    assert images.resize_longest(Image.new("RGB", size), max_side).size == expected


def test_resize_longest_refuses_a_size_below_one():
    with pytest.raises(ParameterError):
        images.resize_longest(Image.new("RGB", (4, 4)), 0)


def test_load_array_gives_float32_hwc_in_0_1(load_test_image):
    arr = load_test_image("tubingen.jpg", 64)
    assert (arr.shape, arr.dtype) == ((48, 64, 3), np.float32)
    assert 0.0 <= arr.min() and arr.max() <= 1.0


def test_to_array_scales_8_bit_to_0_1():
    arr = images.to_array(Image.new("RGB", (2, 1), (255, 0, 51)))
    assert arr.shape == (1, 2, 3)
    assert np.allclose(arr[0, 0], [1.0, 0.0, 0.2])


def test_to_uint8_clips_rounds_and_drops_a_batch_axis():
    arr = np.array([[[-0.5, 0.5, 1.7], [np.nan, 0.002, 0.998]]], dtype=np.float32)
    assert images.to_uint8(arr).tolist() == [[[0, 128, 255], [0, 1, 254]]]
    assert images.to_uint8(arr[None]).shape == (1, 2, 3)
    with pytest.raises(ValueError):
        images.to_uint8(np.zeros((4, 4)))


# --- output --------------------------------------------------------------------------------------

def test_encode_png_round_trips_without_metadata():
    rng = np.random.default_rng(0)
    arr = rng.random((7, 5, 3), dtype=np.float32)
    data = images.encode_png(arr)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), images.to_uint8(arr))
    assert png_chunk_types(data) == [b"IHDR", b"IDAT", b"IEND"]
    tagged = Image.new("RGB", (3, 3), (1, 2, 3))
    tagged.info.update(icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
                       dpi=(300, 300))
    assert png_chunk_types(images.encode_png(tagged)) == [b"IHDR", b"IDAT", b"IEND"]


def test_encode_jpeg_shrinks_large_images_only():
    big, small = np.zeros((300, 600, 3), np.float32), np.zeros((30, 60, 3), np.float32)
    assert Image.open(io.BytesIO(images.encode_jpeg(big, max_side=120))).size == (120, 60)
    assert Image.open(io.BytesIO(images.encode_jpeg(small, max_side=120))).size == (60, 30)
    preview = Image.open(io.BytesIO(images.encode_jpeg(big, quality=60)))
    assert (preview.format, preview.size) == ("JPEG", (600, 300))
    assert "exif" not in preview.info and "icc_profile" not in preview.info


def test_save_png_writes_the_file_atomically(tmp_path):
    arr = np.full((4, 6, 3), 0.5, np.float32)
    target = tmp_path / "job" / "result.png"
    assert images.save_png(arr, target) == target
    assert Image.open(target).size == (6, 4)
    assert [p.name for p in target.parent.iterdir()] == ["result.png"]  # no temporary file left


def test_importing_the_module_is_cheap():
    code = ("import sys, engine.nst.images; "
            "print(sorted(m for m in ('tensorflow', 'django', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
