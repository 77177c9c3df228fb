"""Bad input through the real submission view (Django test client, the real form, real images from
the shared folder and files crafted here with Pillow or byte by byte).

Every refused kind must give a clear message (next to its field on the form, or a friendly page)
and leave nothing behind: no StyleJob or StyleImage row, no file under MEDIA_ROOT, no spooled
upload in FILE_UPLOAD_TEMP_DIR, nothing enqueued. Valid but unusual images (CMYK, 16-bit, alpha,
palette, greyscale, EXIF-rotated, animated, with a payload appended) are accepted and stored
normalised: 8-bit RGB PNG, upright, no payload.

Request bodies over the server's size limit are tested through a real daphne in test_limits.py.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from functools import lru_cache
from pathlib import Path

import django_rq
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from engine.models import Status, StyleImage, StyleJob
from tests.crafted_images import encode, png_chunk
from tests.web_client import PASSWORD, field_errors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


# --- crafting files ------------------------------------------------------------------------------

def zero_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit black PNG of any size, compressed row by row: a large image costs
    little to make and a few hundred KB to store, but width*height bytes once decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_piece = max(1, 2**20 // len(row))
    piece = row * rows_per_piece
    parts = [packer.compress(piece) for _ in range(height // rows_per_piece)]
    parts += [packer.compress(row * (height % rows_per_piece)), packer.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))


@lru_cache(maxsize=1)
def photo(images_dir: Path) -> Image.Image:
    """The real test photo, 96 px wide."""
    with Image.open(images_dir / "tubingen.jpg") as img:
        img = img.convert("RGB")
        img.thumbnail((96, 96))
        return img


def animated_gif(_: Image.Image) -> bytes:
    frames = [Image.new("P", (16, 16), c) for c in (1, 2)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


# kind -> (field, builder(photo) -> bytes, file name, words the message must contain)
BAD_UPLOADS = {
    "empty-file": ("content", lambda p: b"", "photo.jpg", "empty"),
    "truncated-jpeg": ("content", lambda p: encode(p, "JPEG")[:600], "photo.jpg", "damaged or incomplete"),
    "truncated-png": ("content", lambda p: encode(p, "PNG")[:900], "photo.png", "damaged or incomplete"),
    "truncated-webp": ("style_1", lambda p: encode(p, "WEBP")[:300], "style.webp", "damaged or incomplete"),
    "jpeg-signature-only": ("content", lambda p: b"\xff\xd8\xff\xe0" + bytes(60), "photo.jpg",
                            "starts like a JPEG image but is damaged"),
    "text-renamed-jpg": ("content", lambda p: b"Dear Sir, please find my holiday photo attached.\n",
                         "photo.jpg", "not a JPEG, PNG or WebP image"),
    "html-renamed-jpg": ("content", lambda p: b"<!DOCTYPE html><html><body><script>alert(1)</script>",
                         "photo.jpg", "looks like HTML"),
    "svg-renamed-jpg": ("style_1", lambda p: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
                        b'<script>alert(1)</script></svg>', "style.jpg", "looks like SVG"),
    "pdf-renamed-jpg": ("content", lambda p: b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n%%EOF\n",
                        "photo.jpg", "looks like PDF"),
    "gif-javascript-polyglot": ("content", lambda p: b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1)//;",
                                "photo.jpg", "looks like GIF"),
    "html-jpeg-polyglot": ("content", lambda p: b"<html><!--" + encode(p, "JPEG") + b"--><script>x()",
                           "photo.jpg", "looks like HTML"),
    "pdf-jpeg-polyglot": ("style_1", lambda p: b"%PDF-1.5\n1 0 obj<</Length 9>>stream\n" + encode(p, "JPEG")
                          + b"\nendstream endobj\n%%EOF", "style.jpg", "looks like PDF"),
    "animated-gif": ("style_1", animated_gif, "style.gif", "looks like GIF"),
    "tiff-renamed-png": ("content", lambda p: encode(p, "TIFF"), "photo.png", "looks like TIFF"),
    "heic-header": ("content", lambda p: b"\x00\x00\x00\x18ftypheic" + bytes(40), "IMG_0001.jpg",
                    "looks like HEIC"),
    "decompression-bomb": ("content", lambda p: zero_png(30000, 30000), "bomb.png",
                           "claims 900 megapixels; the limit is 50 megapixels"),
    "huge-pixel-count": ("style_1", lambda p: zero_png(10000, 6000), "huge.png",
                         "10000×6000 pixels; the limit is 50 megapixels"),
    "zero-width-header": ("content", lambda p: b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 0, 50, 8, 2, 0, 0, 0)) + png_chunk(b"IEND", b""), "photo.png",
        "cannot be read"),
}


# --- the checks every refusal must pass ----------------------------------------------------------------

@pytest.fixture
def submit(owner_client, job_form_data, rq_redis, media_root, upload_tmp, django_capture_on_commit_callbacks):
    """submit(**form overrides) -> (response, on-commit callbacks registered)."""
    def post(client=None, **overrides):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = (client or owner_client).post(reverse("engine:submit"), job_form_data(**overrides))
        return response, callbacks
    return post


def files_under(path: Path) -> list[Path]:
    return [p for p in Path(path).rglob("*") if p.is_file()] if Path(path).exists() else []


def assert_nothing_stored(callbacks, media_root: Path, upload_tmp: Path) -> None:
    """No job, no job files, nothing spooled, nothing queued. The images that passed their checks
    are kept for the user's next try (engine.studio.staged_uploads: re-encoded PNGs under staged/, which
    expire), and nothing else."""
    assert not StyleJob.objects.exists() and not StyleImage.objects.exists()
    staged = media_root / "staged"
    assert [p for p in files_under(media_root) if staged not in p.parents] == []
    assert all(p.suffix in (".png", ".json") for p in files_under(staged))
    assert files_under(upload_tmp) == []
    assert callbacks == []
    assert django_rq.get_queue("default").count == 0 and django_rq.get_queue("high").count == 0


def assert_refused(response, field: str | None, words: str) -> str:
    """The form came back (200) with `words` in the field's errors (or the form's own errors)."""
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="form-errors"' in html  # the banner at the top that says to look below
    if field is None:
        errors = re.search(r'id="form-errors">(.*?)</div>', html, re.S).group(1)
        message = re.sub(r"<[^>]+>", " ", errors)
    else:
        message = field_errors(response, field)
    assert words in message, message
    assert "Traceback" not in html
    return message


# --- bad files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(BAD_UPLOADS))
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_is_stored(
        kind, submit, images_dir, media_root, upload_tmp):
    field, build, name, words = BAD_UPLOADS[kind]
    data = build(photo(images_dir))
    response, callbacks = submit(**{field: SimpleUploadedFile(name, data, "image/jpeg")})
    assert_refused(response, field, words)
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_an_over_size_file_is_refused_and_its_spooled_copy_removed(
        submit, settings, images_dir, media_root, upload_tmp):
    settings.NST_MAX_UPLOAD_BYTES = 50_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000  # so that Django spools it to upload_tmp
    big = encode(Image.effect_noise((400, 400), 80).convert("RGB"), "PNG")
    assert len(big) > 50_000
    response, callbacks = submit(style_1=SimpleUploadedFile("big.png", big, "image/png"))
    message = assert_refused(response, "style_1", "the largest file you can upload is")
    assert "MB" in message
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_text_where_a_file_belongs_is_refused(submit, media_root, upload_tmp):
    response, callbacks = submit(content="not-a-file.jpg")
    assert_refused(response, "content", "Choose the content image.")
    assert_nothing_stored(callbacks, media_root, upload_tmp)


# --- bad parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, field, value, words", [
    ("classic", "size", "9000", "Size must be between 256 and 1024 px."),
    ("fast", "size", "64", "Size must be between 256 and 1024 px."),
    ("classic", "epochs", "0", "Epochs must be between 1 and 20."),
    ("classic", "steps_per_epoch", "100000", "Steps per epoch must be between 10 and 500."),
    ("classic", "content_weight", "-5", "Content weight must be between 1 and 100000."),
    ("classic", "style_weight", "3", "Style weight must be between 0.0001 and 0.1."),
    ("classic", "tv_weight", "-1", "between 0 and 100"),
    ("classic", "seed", "-1", "greater than or equal to 0"),
    ("classic", "seed", str(2**40), "less than or equal to 2147483647"),
    ("fast", "strength", "1.5", "Style strength must be between 0 and 1."),
    ("fast", "style_1_weight", "-1", "greater than or equal to 0"),
    ("fast", "style_1_weight", "1000", "less than or equal to 100"),
])
def test_out_of_range_numbers_are_refused_next_to_their_field(
        submit, media_root, upload_tmp, mode, field, value, words):
    response, callbacks = submit(mode=mode, **{field: value})
    assert_refused(response, field, words)
    assert_nothing_stored(callbacks, media_root, upload_tmp)


@pytest.mark.parametrize("field, value, words", [
    ("size", "abc", "Enter a whole number."),
    ("size", "512.5", "Enter a whole number."),
    ("epochs", "0x10", "Enter a whole number."),
    ("content_weight", "lots", "Enter a number."),
    ("content_weight", "nan", "Enter a number."),
    ("style_weight", "1e999", "Enter a number."),  # infinity
    ("tv_weight", "-inf", "Enter a number."),
    ("seed", "9" * 400, "less than or equal to 2147483647"),
    ("seed", "9" * 5000, "Enter a whole number."),  # past Python's int() digit limit (4300)
    ("style_1_weight", "½", "Enter a number."),
])
def test_non_numeric_values_are_refused_next_to_their_field(
        submit, media_root, upload_tmp, field, value, words):
    response, callbacks = submit(**{field: value})
    assert_refused(response, field, words)
    assert_nothing_stored(callbacks, media_root, upload_tmp)


@pytest.mark.parametrize("field, value", [
    ("mode", "turbo"), ("optimizer", "sgd"), ("network", "resnet50"), ("init", "../../etc/passwd"),
    ("preset", "ultra"),
])
def test_a_choice_that_is_not_offered_is_refused(submit, media_root, upload_tmp, field, value):
    response, callbacks = submit(**{field: value})
    assert_refused(response, field, "Select a valid choice.")
    assert_nothing_stored(callbacks, media_root, upload_tmp)


@pytest.mark.parametrize("value", ["secret", "999999", "-1"])
def test_a_remix_of_an_artwork_not_in_the_gallery_is_refused(submit, media_root, upload_tmp, value):
    # The hidden field names a gallery artwork; its error is shown above the form.
    response, callbacks = submit(remix=value)
    assert_refused(response, None, "no longer in the gallery")
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_style_weights_that_sum_to_zero_are_refused(submit, image_bytes, media_root, upload_tmp):
    second = SimpleUploadedFile("s2.jpg", image_bytes("shipwreck.jpg", 128), "image/jpeg")
    response, callbacks = submit(style_2=second, style_1_weight="0", style_2_weight="0.0")
    assert_refused(response, "style_1_weight", "At least one style needs a weight above zero.")
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_a_fourth_style_image_is_refused(submit, image_bytes, media_root, upload_tmp):
    # The page offers three slots; a hand-made request adds a fourth.
    extra = SimpleUploadedFile("s4.jpg", image_bytes("shipwreck.jpg", 128), "image/jpeg")
    response, callbacks = submit(style_4=extra, style_4_weight="1")
    assert_refused(response, None, "at most 3 style images")
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_more_files_than_the_form_has_get_a_friendly_400_page(
        submit, image_bytes, media_root, upload_tmp, settings):
    files = {f"style_{n}": SimpleUploadedFile(f"s{n}.jpg", image_bytes("shipwreck.jpg", 64), "image/jpeg")
             for n in range(1, 6)}
    # More than a whole batch of content files and three styles: Django stops counting at the limit.
    files["content"] = [SimpleUploadedFile(f"c{n}.jpg", image_bytes("tubingen.jpg", 64), "image/jpeg")
                        for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES)]
    response, callbacks = submit(**files)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="bad-request"' in html and "more files than the job form has" in html
    assert_nothing_stored(callbacks, media_root, upload_tmp)


def test_the_form_refuses_many_problems_at_once_and_names_each(submit, media_root, upload_tmp):
    response, callbacks = submit(content=SimpleUploadedFile("a.jpg", b"", "image/jpeg"), size="big",
                                 epochs="99", optimizer="sgd")
    for field in ("content", "size", "epochs", "optimizer"):
        assert field_errors(response, field), field
    assert_nothing_stored(callbacks, media_root, upload_tmp)


# --- the form's messages, one field at a time ----------------------------------------------------------

def post_form(client, data):
    return client.post(reverse("engine:submit"), data)


def test_a_file_that_is_not_an_image_is_refused_next_to_its_field(owner_client, job_form_data):
    data = job_form_data(content=SimpleUploadedFile("photo.jpg", b"GIF89a not what it claims", "image/jpeg"))
    response = post_form(owner_client, data)
    assert response.status_code == 200
    assert "not a JPEG, PNG or WebP image" in field_errors(response, "content")
    assert "GIF" in field_errors(response, "content")
    assert not StyleJob.objects.exists()


def test_a_too_large_upload_is_refused_with_the_limit(owner_client, job_form_data, image_bytes, settings):
    settings.NST_MAX_UPLOAD_BYTES = 10_000
    big = image_bytes("golden_gate.jpg", 600)
    assert len(big) > 10_000
    response = post_form(owner_client, job_form_data(style_1=SimpleUploadedFile("big.jpg", big, "image/jpeg")))
    message = field_errors(response, "style_1")
    assert "largest file you can upload is" in message and "MB" in message
    assert not StyleJob.objects.exists()


def test_out_of_range_values_are_refused_next_to_their_fields(owner_client, job_form_data):
    data = job_form_data(size="100", epochs="21", steps_per_epoch="501", content_weight="0.5",
                         style_weight="1", tv_weight="-1")
    response = post_form(owner_client, data)
    assert response.status_code == 200
    assert field_errors(response, "size") == "Size must be between 256 and 1024 px."
    assert field_errors(response, "epochs") == "Epochs must be between 1 and 20."
    assert "between 10 and 500" in field_errors(response, "steps_per_epoch")
    assert "between 1 and 100000" in field_errors(response, "content_weight")
    assert "between 0.0001 and 0.1" in field_errors(response, "style_weight")
    assert "between 0 and 100" in field_errors(response, "tv_weight")
    assert field_errors(response, "seed") == ""
    assert not StyleJob.objects.exists()


def test_fast_strength_must_be_between_0_and_1(owner_client, job_form_data):
    response = post_form(owner_client, job_form_data("fast", strength="1.5"))
    assert field_errors(response, "strength") == "Style strength must be between 0 and 1."


def test_a_job_needs_a_style_image(owner_client, job_form_data):
    response = post_form(owner_client, job_form_data(style_1=None))
    assert field_errors(response, "style_1") == "Add at least one style image."
    assert not StyleJob.objects.exists()


def test_a_job_needs_a_content_image(owner_client, job_form_data):
    response = post_form(owner_client, job_form_data(content=None))
    assert field_errors(response, "content") == "Choose the content image."


def test_style_weights_cannot_all_be_zero(owner_client, job_form_data):
    response = post_form(owner_client, job_form_data(style_1_weight="0"))
    assert "above zero" in field_errors(response, "style_1_weight")


def test_the_form_keeps_the_users_values_after_an_error(owner_client, job_form_data):
    response = post_form(owner_client, job_form_data(size="100", tv_weight="42"))
    assert 'name="tv_weight" value="42"' in response.content.decode()


# --- a failure half-way through saving ---------------------------------------------------------------

def test_a_storage_failure_while_saving_leaves_no_files_and_says_to_try_again(
        submit, image_bytes, media_root, upload_tmp, monkeypatch):
    # A full disk on the second file: a failure that cannot be caused for real here, hence the patch.
    from django.core.files.storage import FileSystemStorage

    real_save, saved = FileSystemStorage._save, []

    def save_once(storage, name, content):
        if saved:
            raise OSError(28, "No space left on device")
        saved.append(real_save(storage, name, content))
        return saved[-1]

    monkeypatch.setattr(FileSystemStorage, "_save", save_once)
    response, callbacks = submit()
    assert saved  # the content image had been written before the failure
    assert response.status_code == 503
    assert "could not be saved" in response.content.decode()
    assert_nothing_stored(callbacks, media_root, upload_tmp)


# --- valid but unusual images: accepted and normalised ------------------------------------------------

def stored_content(response) -> Image.Image:
    assert response.status_code == 302, field_errors(response, "content")
    job = StyleJob.objects.get()
    assert job.status == Status.QUEUED
    with job.content.open("rb") as fh:
        data = fh.read()
    assert data.startswith(b"\x89PNG")
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.mode == "RGB" and not img.getexif() and "icc_profile" not in img.info
    return img


def close(actual, expected, tol: int = 6) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def upload(data: bytes, name: str = "photo") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "application/octet-stream")


def test_a_cmyk_jpeg_is_stored_as_rgb(submit):
    data = encode(Image.new("CMYK", (64, 48), (255, 0, 0, 0)), "JPEG", quality=95)
    img = stored_content(submit(content=upload(data, "print.jpg"))[0])
    assert img.size == (64, 48) and close(img.getpixel((10, 10)), (0, 255, 255))


def test_a_16_bit_png_is_scaled_to_8_bit(submit):
    grey = np.full((48, 64), 32896, dtype=np.uint16)  # 128 * 257
    grey[:, 32:] = 65535
    img = stored_content(submit(content=upload(encode(Image.fromarray(grey), "PNG"), "scan.png"))[0])
    assert img.getpixel((5, 5)) == (128, 128, 128) and img.getpixel((60, 5)) == (255, 255, 255)


def test_transparency_is_flattened_onto_white(submit):
    rgba = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (0, 0, 32, 48))
    img = stored_content(submit(content=upload(encode(rgba, "PNG"), "logo.png"))[0])
    assert img.getpixel((50, 10)) == (255, 255, 255) and img.getpixel((5, 10)) == (200, 0, 0)


def test_a_palette_png_keeps_its_colours(submit):
    pal = Image.new("P", (64, 48), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * (254 * 3))
    img = stored_content(submit(content=upload(encode(pal, "PNG"), "palette.png"))[0])
    assert img.getpixel((20, 20)) == (10, 200, 30)


def test_a_greyscale_jpeg_becomes_grey_rgb(submit, images_dir):
    grey = photo(images_dir).convert("L")
    img = stored_content(submit(content=upload(encode(grey, "JPEG", quality=95), "bw.jpg"))[0])
    r, g, b = img.split()
    assert r.tobytes() == g.tobytes() == b.tobytes()
    assert img.size == grey.size


def test_an_exif_rotated_photo_is_stored_upright(submit, images_dir):
    # Stored landscape with the top half red; orientation 6 = "turn 90° clockwise to display":
    # upright it is portrait, with the red half on the right.
    stored = photo(images_dir).copy()
    width, height = stored.size
    stored.paste((255, 0, 0), (0, 0, width, height // 2))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    img = stored_content(submit(content=upload(data, "IMG_1234.JPG"))[0])
    assert img.size == (height, width)
    assert close(img.getpixel((height - 5, width // 2)), (255, 0, 0), tol=20)
    assert not close(img.getpixel((5, width // 2)), (255, 0, 0), tol=20)


def test_an_animated_png_gives_its_first_frame(submit):
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)
    img = stored_content(submit(content=upload(data, "sticker.png"))[0])
    assert img.getpixel((10, 10)) == (255, 0, 0)


def test_a_payload_appended_to_a_real_jpeg_is_not_stored(submit, images_dir):
    payload = b"<script>alert(document.cookie)</script><?php system($_GET['c']); ?>"
    data = encode(photo(images_dir), "JPEG") + payload
    response, _ = submit(content=upload(data, "photo.jpg"))
    stored_content(response)
    with StyleJob.objects.get().content.open("rb") as fh:
        stored = fh.read()
    assert b"<script>" not in stored and b"<?php" not in stored


def test_a_large_photo_is_stored_at_2048_pixels(submit, images_dir):
    big = photo(images_dir).resize((3000, 2000))
    img = stored_content(submit(content=upload(encode(big, "JPEG", quality=80), "big.jpg"))[0])
    assert img.size == (2048, 1365)


@pytest.mark.parametrize("name", [
    "Ünïcödé фото 写真 🖼️.jpg",
    "x" * 300 + ".jpg",
    "../../../../etc/passwd.jpg",
    "C:\\Users\\me\\Desktop\\photo.jpg",
    "photo.jpg\x00.php",
])
def test_odd_file_names_are_accepted_and_never_used_for_storage(submit, image_bytes, name):
    response, _ = submit(content=upload(image_bytes("tubingen.jpg", 96), name))
    stored_content(response)
    job = StyleJob.objects.get()
    assert job.content.name == f"jobs/{job.uuid.hex}/content.png"
    assert job.styles.get().image.name == f"jobs/{job.uuid.hex}/style-1.png"


# --- names at sign-up ----------------------------------------------------------------------------------

def signup(username: str):
    return Client().post(reverse("signup"), {"username": username, "email": "someone@example.org",
                                             "password1": PASSWORD, "password2": PASSWORD})


@pytest.mark.parametrize("username, words", [
    ("n" * 151, "at most 150 characters"),
    ("emoji 😀 name", "Enter a valid username"),
    ("<script>", "Enter a valid username"),
    ("", "This field is required"),
])
def test_bad_usernames_are_refused_with_a_message(username, words):
    response = signup(username)
    assert response.status_code == 200 and words in response.content.decode()
    assert not get_user_model().objects.exists()


def test_unicode_and_long_usernames_within_the_limits_are_accepted():
    for username in ("Zoë_Ørsted", "名前.テスト", "u" * 150):
        assert signup(username).status_code == 302, username
        get_user_model().objects.filter(username=username).delete()


# --- someone else's job, in every URL --------------------------------------------------------------

def job_urls(pk: int) -> list[tuple[str, str]]:
    from engine.storage.job_files import DOWNLOADS

    urls = [("get", reverse("engine:detail", args=[pk])), ("post", reverse("engine:cancel", args=[pk]))]
    kinds = [*DOWNLOADS, "style-1", "style-2", "nonsense"]
    urls += [("get", reverse("engine:download", args=[pk, kind])) for kind in kinds]
    return urls


def test_another_users_private_job_is_404_in_every_url(other_client, client, make_job, owner, rq_redis):
    job = make_job(styles=("starry_night.jpg", "shipwreck.jpg"))
    for method, url in job_urls(job.pk):
        for who, c in (("other user", other_client), ("anonymous", client)):
            response = getattr(c, method)(url)
            assert response.status_code in ((404,) if method == "get" or who != "anonymous" else (302,)), \
                (who, url, response.status_code)
            if response.status_code == 404:
                assert "Not found" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Status.QUEUED


@pytest.mark.parametrize("pk", [999999, 2**31, 2**63 - 1, 2**63, 10**30])
def test_a_job_id_that_does_not_exist_or_overflows_is_404(owner_client, pk):
    for method, url in job_urls(pk):
        response = getattr(owner_client, method)(url)
        assert response.status_code == 404, (url, response.status_code)


@pytest.mark.parametrize("pk", [999999, 2**63 - 1, 2**63, 10**23 - 1, 10**30])
def test_a_gallery_batch_id_that_does_not_exist_or_overflows_is_404(client, owner_client, pk):
    """Issue 24, finding 8: anonymous GET /gallery/batch/99999999999999999999999/ was a 500."""
    for visitor in (client, owner_client):
        response = visitor.get(reverse("gallery:batch", args=[pk]))
        assert response.status_code == 404, (pk, response.status_code)


@pytest.mark.parametrize("name, value", [
    ("width", "1" + "0" * 309),   # the issue's: a float overflow in result_dims
    ("height", "1" + "0" * 309),
    ("width", "65536"), ("width", "-5"), ("height", "²"), ("styles", "9" * 40), ("frames", "1e400"),
])
def test_the_estimate_refuses_absurd_numbers_with_a_400(owner_client, rq_redis, name, value):
    """Issue 24, finding 8: GET /jobs/estimate/?mode=fast&height=1&width=1 followed by 309 zeros was a 500."""
    query = {"mode": "fast", "width": "1", "height": "1", name: value}
    response = owner_client.get(reverse("engine:estimate"), query)
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(f"{name}: a whole number from 0 to")
    assert owner_client.get(reverse("engine:estimate"), {"mode": "fast", "width": "4000",
                                                         "height": "3000"}).status_code == 200


@pytest.mark.parametrize("query", ["?page=abc", "?page=-1", "?page=99999999999999999999",
                                   "?status=<script>alert(1)</script>", "?status=queued&page=0"])
def test_odd_query_strings_on_my_jobs_still_give_the_page(owner_client, make_job, query):
    make_job()
    response = owner_client.get(reverse("engine:my_jobs") + query)
    assert response.status_code == 200 and "<script>alert(1)</script>" not in response.content.decode()


def test_odd_query_strings_on_the_form_still_give_the_form(owner_client):
    response = owner_client.get(reverse("engine:submit") + "?preset=<b>x</b>&mode=turbo")
    assert response.status_code == 200 and "<b>x</b>" not in response.content.decode()


@pytest.mark.parametrize("remix", ["²", "٣", "①", "1²", "9" * 30, "-1", "0x10"])
def test_a_remix_id_that_is_not_plain_digits_or_overflows_gives_an_empty_form(owner_client, remix):
    # Issue 14, finding 4: str.isdigit() accepts '²' (and int() then raises): it was a 500.
    response = owner_client.get(reverse("engine:submit"), {"remix": remix})
    assert response.status_code == 200
    assert "That artwork is not in the gallery" in response.content.decode()


@pytest.mark.parametrize("page", ["²", "①", "9" * 30])
def test_a_gallery_page_number_that_is_not_plain_digits_gives_the_first_page(client, page):
    response = client.get(reverse("gallery:index"), {"page": page})
    assert response.status_code == 200


# --- forged forms ----------------------------------------------------------------------------------

def test_a_forged_post_without_csrf_token_gets_a_friendly_403_and_changes_nothing(
        owner, make_job, job_form_data, rq_redis, media_root):
    job = make_job()
    stored_before = files_under(media_root)
    forger = Client(enforce_csrf_checks=True)
    forger.force_login(owner)
    posts = [(reverse("engine:submit"), job_form_data()), (reverse("engine:cancel", args=[job.pk]), {}),
             (reverse("logout"), {}), (reverse("password_change"), {"old_password": PASSWORD,
                                                                     "new_password1": "x-Y-z-12345678",
                                                                     "new_password2": "x-Y-z-12345678"})]
    for url, data in posts:
        response = forger.post(url, data)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert 'id="csrf-failure"' in html and "reload the page, and send the form again" in html
        assert 'class="site-header"' in html and owner.username in html  # the site's page, logged in
    job.refresh_from_db()
    owner.refresh_from_db()
    assert job.status == Status.QUEUED and StyleJob.objects.count() == 1
    assert owner.check_password(PASSWORD)
    assert files_under(media_root) == stored_before
    assert "_auth_user_id" in forger.session  # the forged logout did not log out


def test_a_login_form_without_csrf_token_is_refused_friendly(owner):
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": owner.username,
                                                                        "password": PASSWORD})
    assert response.status_code == 403 and 'id="csrf-failure"' in response.content.decode()
