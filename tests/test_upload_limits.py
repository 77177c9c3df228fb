"""Cheap checks before expensive ones on the submission path (issue 14, finding 1): one POST of a
content and three styles near the 50 MP limit took 5 s and 620 MB in the web process, and the
images were decoded before the active-jobs quota was even looked at.

Now: the quota and the submission rate are checked before the form is validated (no upload
read), the uploads' headers are added up against a pixel budget per submission before any is
decoded, and decoding shrinks while it reads (engine.nst.images.open_image's max_side: JPEG at
1/2-1/8 scale, every format converted and reduced a band at a time). The memory figure of the
real web server: bench/bench_upload_memory.py, docs/reliability.md.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from engine.models import StyleJob, UserQuota
from engine.nst import images
from tests.crafted_images import encode, flat_png

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]
REPO = Path(__file__).resolve().parents[1]
MB = 2**20


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Records each image the engine decodes (the real open_image still runs)."""
    calls: list[str] = []
    real = images.open_image

    def recording(source, **kwargs):
        calls.append(getattr(source, "name", repr(type(source))))
        return real(source, **kwargs)

    monkeypatch.setattr(images, "open_image", recording)
    return calls


def test_a_user_at_the_active_jobs_quota_gets_the_answer_before_any_upload_is_decoded(
        owner, owner_client, make_job, job_form_data, decodes, rq_redis):
    UserQuota.objects.create(user=owner, max_active_jobs=1)
    make_job()  # queued: the one active job allowed
    decodes.clear()  # (making it decoded its photo)
    response = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast", size="320"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "the most your account may have at once (1)" in html and 'value="320"' in html
    assert decodes == [] and StyleJob.objects.count() == 1


def test_uploads_over_the_pixel_budget_are_refused_from_their_headers(
        owner_client, job_form_data, settings, decodes, rq_redis):
    settings.NST_MAX_SUBMISSION_PIXELS = 60_000_000
    big = flat_png(6000, 5000, b"\x80", mode="L")  # 30 MP each, 60 KB each
    data = job_form_data(mode="fast", content=SimpleUploadedFile("a.png", big, "image/png"),
                         style_1=SimpleUploadedFile("b.png", big, "image/png"),
                         style_2=SimpleUploadedFile("c.png", big, "image/png"))
    response = owner_client.post(reverse("engine:submit"), data)
    assert response.status_code == 200
    assert "Together these images have 90 megapixels to decode; one submission may bring at most 60" \
        in response.content.decode()
    assert decodes == [] and StyleJob.objects.count() == 0


def test_the_pixel_budget_holds_for_a_whole_batch(owner_client, job_form_data, settings, decodes, rq_redis,
                                                  images_dir):
    """Issue 24, finding 5: a batch's photos were counted one at a time (a batch of 21 × 50 MP
    decoded 1,050 MP in one POST). The whole submission is counted, each photo as it will be
    decoded: a large JPEG at the reduced scale libjpeg decodes it at."""
    settings.NST_MAX_SUBMISSION_PIXELS = 60_000_000
    big = flat_png(6000, 5000, b"\x80", mode="L")  # 30 MP each
    data = job_form_data(mode="fast", content=[SimpleUploadedFile(f"{n}.png", big, "image/png") for n in range(3)])
    response = owner_client.post(reverse("engine:submit"), data)
    assert "Together these images have 90 megapixels to decode" in response.content.decode()
    assert decodes == [] and StyleJob.objects.count() == 0
    # Three 30 MP JPEGs decode at half scale for a 2048 px job: 22.5 MP together.
    jpeg = encode(Image.new("RGB", (6000, 5000), (90, 120, 150)), "JPEG", quality=80)
    data = job_form_data(mode="fast", content=[SimpleUploadedFile(f"{n}.jpg", jpeg, "image/jpeg") for n in range(3)])
    assert owner_client.post(reverse("engine:submit"), data).status_code == 302
    assert StyleJob.objects.count() == 3


def test_the_budget_counts_only_the_images_sent(owner_client, job_form_data, settings, rq_redis):
    settings.NST_MAX_SUBMISSION_PIXELS = 60_000_000
    data = job_form_data(mode="fast", content=SimpleUploadedFile("a.png", flat_png(6000, 5000, b"\x80", "L")))
    assert owner_client.post(reverse("engine:submit"), data).status_code == 302


def test_the_default_budget_allows_one_full_size_photo_with_its_styles(settings):
    assert settings.NST_MAX_SUBMISSION_PIXELS >= images.MAX_PIXELS + 3 * 4_000_000


# --- decoding in bounded memory ---------------------------------------------------------------------

def photo_jpeg(images_dir: Path, width: int, height: int) -> bytes:
    with Image.open(images_dir / "tubingen.jpg") as img:
        return encode(img.convert("RGB").resize((width, height)), "JPEG", quality=90)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(images_dir):
    data = photo_jpeg(images_dir, 4000, 3000)
    with Image.open(io.BytesIO(data)) as probe:
        probe.draft(None, (1025, 769))
        assert probe.size == (1000, 750) or probe.size[0] >= 1025  # what libjpeg can do at 1/2-1/8
    img = images.open_image(io.BytesIO(data), max_side=1024)
    assert img.size == (1024, 768) and img.mode == "RGB"
    # Close to the full decode shrunk the old way (LANCZOS from full size).
    full = images.resize_longest(images.open_image(io.BytesIO(data)), 1024)
    diff = np.abs(np.asarray(img, dtype=np.int16) - np.asarray(full, dtype=np.int16))
    assert diff.mean() < 3.0


@pytest.mark.parametrize("mode, pixel, expected", [
    ("RGBA", b"\xff\x00\x00\x80", (255, 127, 127)),   # half-transparent red onto white
    ("LA", b"\x00\x00", (255, 255, 255)),             # fully transparent: white
    ("L", b"\x40", (64, 64, 64)),
    ("RGB", b"\x10\x80\xf0", (16, 128, 240)),
])
def test_a_shrunk_image_is_converted_as_a_whole_one_is(mode, pixel, expected):
    img = images.open_image(flat_png(3000, 1000, pixel, mode), max_side=512)
    assert img.size == (512, 171) and img.mode == "RGB"
    values = np.asarray(img).reshape(-1, 3)
    assert np.abs(values.astype(int) - expected).max() <= 1


def test_a_shrunk_palette_image_keeps_its_colours_and_the_exif_orientation_applies(images_dir):
    palette = Image.new("P", (3000, 1500))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (1500, 0, 3000, 1500))  # left red, right blue
    img = images.open_image(encode(palette, "PNG"), max_side=600)
    assert img.size == (600, 300)
    assert img.getpixel((10, 150)) == (255, 0, 0) and img.getpixel((590, 150)) == (0, 0, 255)
    rotated = Image.new("RGB", (3000, 1500), (255, 0, 0))
    rotated.paste((0, 0, 255), (1500, 0, 3000, 1500))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    upright = images.open_image(encode(rotated, "JPEG", exif=exif.tobytes()), max_side=600)
    assert upright.size == (300, 600)
    assert upright.getpixel((150, 10))[0] > 200 and upright.getpixel((150, 590))[2] > 200


def test_the_form_decodes_the_worst_uploads_allowed_in_bounded_memory(tmp_path):
    """The uploads that cost most to decode within the limits: two 50 MP RGBA PNGs (200 MB each
    once decoded; a PNG cannot be decoded at a smaller scale), validated by the real form in a fresh
    process; its peak memory above what it used before (ru_maxrss) must stay under 300 MB. Before
    issue 14 the same form needed 600 MB for one such image (the whole image converted, composited
    and resized in copies)."""
    side = 7070  # 49.98 MP: just under the 50 MP limit
    path = tmp_path / "rgba.png"
    path.write_bytes(flat_png(side, side))
    script = textwrap.dedent(f"""
        import django
        django.setup()
        from django.core.files.uploadedfile import SimpleUploadedFile
        from engine.studio.forms import StyleJobForm
        data = open({str(path)!r}, "rb").read()
        from django.utils.datastructures import MultiValueDict
        files = MultiValueDict({{"content": [SimpleUploadedFile("c.png", data, "image/png")],
                  "style_1": [SimpleUploadedFile("s.png", data, "image/png")]}})
        form = StyleJobForm({{"mode": "fast", "size": "512", "strength": "1", "style_1_weight": "1",
                             "fast_network": "builtin", "preset": "custom"}}, files)
        def status(field):
            with open("/proc/self/status") as fh:
                return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # the peak (VmHWM) from here on: the form's, not the imports' before it
        before = status("VmRSS:")
        valid = form.is_valid()
        peak = status("VmHWM:")
        print(valid, dict(form.errors), form.cleaned_data["content"][0].file.size, peak - before)
    """)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NST_"))},
           "DJANGO_SETTINGS_MODULE": "nstsite.settings", "DJANGO_SECRET_KEY": "k" * 50}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    valid, *_, growth = done.stdout.split()
    assert valid == "True", done.stdout
    print(f"peak {int(growth) / MB:.0f} MB above the start")
    assert int(growth) < 300 * MB, f"peak {int(growth) / MB:.0f} MB above the start"
