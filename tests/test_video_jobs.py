"""Clips and batches through the platform: the form (every bad clip refused with a message, nothing
stored), video jobs run by a real RQ worker with the real engine, their page, downloads, gallery
entry, batches (a job per file, one slot, one page, one streamed zip, one entry in lists) and the
command line. Clips are made by the tests with PyAV (tests/clips.py), at 64x48."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from engine.models import Batch, Mode, Status, StyleImage, StyleJob, UserQuota
from engine.nst import video_io
from gallery.models import Artwork
from tests import clips
from tests.web_client import field_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(images_dir) -> Path:
    return images_dir / "tubingen.jpg"


@pytest.fixture
def clip(tmp_path, photo):
    """clip(name="pan.mp4", **make_clip options) -> the clip's bytes."""
    def make(name: str = "pan.mp4", **options) -> bytes:
        return clips.make_clip(tmp_path / name, photo, **{"frames": 12, **options}).read_bytes()
    return make


@pytest.fixture
def post(owner_client, job_form_data, rq_redis, media_root, upload_tmp, django_capture_on_commit_callbacks):
    """post(content=..., **overrides) -> (response, on-commit callbacks): the form in video mode at the
    smallest size, one style image."""
    def submit(client=None, **overrides):
        data = job_form_data(overrides.pop("mode", "video"), size="256", stability="0.6", **overrides)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = (client or owner_client).post(reverse("engine:submit"), data)
        return response, callbacks
    return submit


def _files(path: Path) -> list[Path]:
    return [p for p in Path(path).rglob("*") if p.is_file()] if Path(path).exists() else []


def _nothing_stored(callbacks, media_root, upload_tmp) -> None:
    """No job, batch or job file, nothing spooled or queued. The style images that passed their checks
    are kept for the user's next try (engine.studio.staged_uploads: PNGs under staged/, which expire), and
    nothing else: never a clip."""
    assert not StyleJob.objects.exists() and not StyleImage.objects.exists() and not Batch.objects.exists()
    staged = Path(media_root) / "staged"
    assert [p for p in _files(media_root) if staged not in p.parents] == []
    assert all(p.suffix in (".png", ".json") for p in _files(staged))
    assert _files(upload_tmp) == [] and callbacks == []
    assert django_rq.get_queue("default").count == 0


def _upload(name: str, data: bytes, kind: str = "video/mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, kind)


def _small_job(job: StyleJob, size: int = 64, chunk_frames: int = 5) -> None:
    """The form's smallest size is 256 px; the worker tests run at 64 px in chunks of 5 frames."""
    StyleJob.objects.filter(pk=job.pk).update(
        size=size, params={**job.params, "size": size, "chunk_frames": chunk_frames},
        epochs=-(-job.total_steps // chunk_frames))
    job.refresh_from_db()


# --- bad clips: a clear message each, nothing stored -----------------------------------------------------

def _truncated(clip) -> bytes:
    data = clip("t.mp4", frames=20)
    return data[: len(data) * 2 // 3]


def _strange_codec(clip) -> bytes:
    return clip("s.mp4", frames=4).replace(b"avc1", b"zzz9")


BAD_CLIPS = {
    "truncated": (lambda c, t, p, b: _truncated(c), "clip.mp4", "damaged or incomplete"),
    "audio-only": (lambda c, t, p, b: clips.make_audio_only(t / "a.m4a").read_bytes(), "song.m4a", "audio only"),
    "no-video": (lambda c, t, p, b: b"\x00" * 64 + b"random bytes that are no container at all" * 50, "x.mp4",
                 "not a video we can read"),
    "zero-frames": (lambda c, t, p, b: clips.make_empty_clip(t / "e.mp4").read_bytes(), "empty.mp4", "no frames"),
    "unknown-codec": (lambda c, t, p, b: _strange_codec(c), "odd.mp4", "not one we can read"),
    "photo-named-mp4": (lambda c, t, p, b: b("tubingen.jpg", 64), "holiday.mp4", "named like a video"),
    "clip-named-jpg": (lambda c, t, p, b: c("n.mp4"), "photo.jpg", "named like a photo"),
    "too-long": (lambda c, t, p, b: c("l.mp4", frames=30, fps=10), "long.mp4", "3.0 s long; the limit is 2 s"),
    "too-wide": (lambda c, t, p, b: c("w.mp4", width=96, height=64), "wide.mp4", "the limit is 80 px"),
    "too-many-frames": (lambda c, t, p, b: c("f.mp4", frames=16), "many.mp4", "16 frames; the limit is 15"),
}


@pytest.mark.parametrize("kind", list(BAD_CLIPS))
def test_a_bad_clip_is_refused_with_a_clear_message_and_nothing_is_stored(
        kind, post, clip, tmp_path, photo, image_bytes, owner, media_root, upload_tmp):
    UserQuota.objects.create(user=owner, max_clip_seconds=2, max_clip_side=80, max_clip_frames=15)
    build, name, words = BAD_CLIPS[kind]
    response, callbacks = post(content=_upload(name, build(clip, tmp_path, photo, image_bytes)))
    assert response.status_code == 200
    assert words in field_errors(response, "content"), field_errors(response, "content")
    assert "Traceback" not in response.content.decode()
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_a_clip_over_the_size_limit_is_refused_before_it_is_read(post, clip, owner, settings, media_root,
                                                                  upload_tmp):
    data = clip(frames=12)
    UserQuota.objects.create(user=owner, max_clip_mb=1)
    settings.NST_MAX_CLIP_BYTES = len(data) - 1  # the server's cap: the upload handler drops it as it arrives
    response, callbacks = post(content=_upload("pan.mp4", data))
    assert "the largest file you can upload is" in field_errors(response, "content")
    assert "for a clip" in field_errors(response, "content")
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_a_photo_over_its_limit_is_still_refused_though_clips_may_be_larger(
        post, settings, image_bytes, media_root, upload_tmp):
    settings.NST_MAX_UPLOAD_BYTES = 2_000
    response, callbacks = post(content=_upload("big.jpg", image_bytes("tubingen.jpg", 256), "image/jpeg"))
    errors = field_errors(response, "content")
    assert "the largest file you can upload is" in errors and "for a photo" in errors
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_a_clip_in_fast_mode_is_refused_saying_to_choose_video(post, clip, media_root, upload_tmp):
    response, callbacks = post(content=_upload("pan.mp4", clip()), mode="fast")
    assert "choose Video as the mode" in field_errors(response, "content")
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_the_form_shows_the_clip_limits_of_the_users_quota(owner_client, owner):
    UserQuota.objects.create(user=owner, max_clip_seconds=30, max_clip_side=1280, max_batch_files=5)
    html = owner_client.get(reverse("engine:submit")).content.decode()
    help_text = re.search(r'id="id_content_helptext">(.*?)</p>', html, re.S).group(1)
    assert "up to 30 s, 1280 px and 500 MB" in help_text and "up to 5 files" in help_text
    assert 'name="content"' in html and "multiple" in re.search(r'<input[^>]*name="content"[^>]*>', html).group(0)
    assert 'id="id_stability"' in re.search(r'id="video-settings">(.*?)</fieldset>', html, re.S).group(1)


def test_a_clip_is_recognised_and_probed_once_per_submission(post, clip, photo, tmp_path, monkeypatch):
    """The admission's pixel budget and the form both ask what a content file is (detected once and
    kept on the upload); the clip is then probed once (engine.studio.content_files), an animated GIF too."""
    from engine.studio import content_files

    calls = {"kind": 0, "probe": 0}

    def counting(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(content_files, "media_kind", counting("kind", video_io.media_kind))
    monkeypatch.setattr(content_files, "probe", counting("probe", video_io.probe))
    gif = clips.make_animation(tmp_path / "loop.gif", photo).read_bytes()
    for upload in (_upload("pan.mp4", clip()), _upload("loop.gif", gif, "image/gif")):
        calls.update(kind=0, probe=0)
        response, _ = post(content=upload)
        assert response.status_code == 302, field_errors(response, "content")
        assert calls == {"kind": 1, "probe": 1}, upload.name
    assert StyleJob.objects.filter(mode=Mode.VIDEO).count() == 2


# --- a video job, end to end on a real worker ----------------------------------------------------------

def test_a_clip_becomes_a_video_job_that_a_worker_stylises_into_a_playable_mp4(
        post, clip, burst_worker, owner_client, client, tmp_path):
    source = clip(frames=12, variable=True, audio="aac")
    response, _ = post(content=_upload("pan.mp4", source))
    job = StyleJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("engine:detail", args=[job.pk])
    assert (job.mode, job.total_steps, job.content.name.endswith("content.mp4")) == (Mode.VIDEO, 12, True)
    _small_job(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.result.name.endswith("result.mp4") and job.poster and not job.checkpoint
    assert not list((Path(job.result.path).parent / "video").glob("chunk-*"))  # the chunks went
    result = tmp_path / "result.mp4"
    result.write_bytes(b"".join(owner_client.get(reverse("engine:download", args=[job.pk, "mp4"])).streaming_content))
    given = tmp_path / "given.mp4"
    given.write_bytes(source)
    facts = video_io.clip_facts(result)
    assert facts["times"] == pytest.approx(video_io.clip_facts(given)["times"], abs=1e-4)
    assert (facts["codec"], facts["pix_fmt"], facts["audio"], facts["faststart"]) == ("h264", "yuv420p", "aac", True)
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="result-video"' in page and f'{reverse("engine:download", args=[job.pk, "mp4"])}?inline=1' in page
    assert 'id="download-mp4"' in page and 'id="download-png"' not in page
    assert '<video class="content-clip"' in page  # the clip it was made from
    history = json.loads(owner_client.get(reverse("engine:download", args=[job.pk, "json"])).content)
    assert any("12 frames" in event for event in history["events"])
    assert client.get(reverse("engine:download", args=[job.pk, "mp4"])).status_code == 404  # private


def test_the_page_gets_frames_between_chunks_not_only_at_their_ends(
        post, clip, burst_worker, owner_client, monkeypatch):
    """A chunk takes a minute at large sizes: the latest frame goes out every PREVIEW_INTERVAL
    (0 here: every frame) as the preview of the chunk in progress, which the page can load."""
    from engine.live import updates as live
    from engine.runners import progress

    monkeypatch.setattr(progress, "PREVIEW_INTERVAL", 0.0)
    published, loaded = [], []
    real_publish = live.publish_progress

    def spy(job, **kwargs):
        if kwargs.get("preview_epoch") is not None:
            published.append((kwargs["step"], kwargs["preview_epoch"]))
            url = reverse("engine:preview", args=[job.pk, kwargs["preview_epoch"]])
            loaded.append(owner_client.get(url).status_code)
        return real_publish(job, **kwargs)

    monkeypatch.setattr(live, "publish_progress", spy)
    post(content=_upload("pan.mp4", clip(frames=12)))
    job = StyleJob.objects.get()
    _small_job(job)  # chunks of 5: frames 1-5, 6-10, 11-12
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert published == [(frame, (frame - 1) // 5 + 1) for frame in range(1, 13)]
    assert set(loaded) == {200}


@pytest.mark.parametrize("kind", ["mp4", "gif", "webp"])
def test_a_shared_original_clip_carries_no_metadata(post, clip, photo, tmp_path, client, kind):
    """Issue 24, finding 12: a shared original clip downloaded byte-identical to the upload, with GPS
    coordinates and the artist's name. The stored clip is re-muxed without them (its packets
    copied, not re-encoded): the same frames, times, size, rotation and sound."""
    if kind == "mp4":
        plain = clips.make_clip(tmp_path / "plain.mp4", photo, frames=12, rotation=90, audio="aac")
        data = clips.with_metadata(plain, tmp_path / "tagged.mp4").read_bytes()
    else:
        animation = clips.make_animation(tmp_path / f"plain.{kind}", photo, fmt=kind.upper()).read_bytes()
        data = (clips.gif_with_metadata if kind == "gif" else clips.webp_with_metadata)(animation)
    assert all(marker in data for marker in clips.METADATA_MARKERS)
    (tmp_path / f"upload.{kind}").write_bytes(data)
    response, _ = post(content=_upload(f"holiday.{kind}", data), publish="on", share_originals="on")
    assert response.status_code == 302, field_errors(response, "content")
    job = StyleJob.objects.get()
    shared = b"".join(client.get(reverse("engine:download", args=[job.pk, "content"])).streaming_content)
    assert not [marker for marker in clips.METADATA_MARKERS if marker in shared]
    (tmp_path / f"shared.{kind}").write_bytes(shared)
    before, after = video_io.probe(tmp_path / f"upload.{kind}"), video_io.probe(tmp_path / f"shared.{kind}")
    assert after == before
    if kind == "mp4":
        assert after.rotation == 90 and after.audio_codec == "aac"
        facts = video_io.clip_facts(tmp_path / f"upload.{kind}"), video_io.clip_facts(tmp_path / f"shared.{kind}")
        assert {k: v for k, v in facts[1].items() if k != "faststart"} == \
            {k: v for k, v in facts[0].items() if k != "faststart"}
    else:
        from PIL import Image, ImageChops

        with Image.open(tmp_path / f"upload.{kind}") as a, Image.open(tmp_path / f"shared.{kind}") as b:
            assert a.n_frames == b.n_frames
            for index in range(a.n_frames):
                a.seek(index)
                b.seek(index)
                assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def test_a_published_video_is_in_the_gallery_with_its_poster_and_plays_on_its_page(
        post, clip, burst_worker, client):
    post(content=_upload("pan.mp4", clip()), publish="on")
    job = StyleJob.objects.get()
    _small_job(job)
    burst_worker()
    artwork = Artwork.objects.get(job=job)
    assert set(artwork.thumbnails) == {"result", "content", "style-1"}
    assert (artwork.thumb_width, artwork.thumb_height) == (64, 48)  # the poster's size
    grid = client.get(reverse("gallery:index")).content.decode()
    assert "▶ Video" in grid and reverse("gallery:thumbnail", args=[artwork.pk, "result"]) in grid
    page = client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
    assert 'id="artwork-video"' in page and "Download MP4" in page
    download = client.get(reverse("gallery:download", args=[artwork.pk]))
    assert download["Content-Type"] == "video/mp4" and download["Content-Disposition"].endswith('.mp4"')


# --- batches --------------------------------------------------------------------------------------------

def test_several_files_make_a_batch_of_jobs_with_one_page_one_zip_and_one_entry(
        post, clip, image_bytes, burst_worker, owner_client, other_client, owner):
    files = [_upload("a.jpg", image_bytes("tubingen.jpg", 300), "image/jpeg"), _upload("pan.mp4", clip()),
             _upload("b.png", image_bytes("golden_gate.jpg", 300, fmt="PNG"), "image/png")]
    UserQuota.objects.create(user=owner, max_active_jobs=1)  # a batch takes one slot, whatever its size
    response, callbacks = post(content=files)
    batch = Batch.objects.get()
    jobs = list(batch.jobs.order_by("pk"))
    assert response["Location"] == reverse("engine:batch", args=[batch.pk])
    assert [j.mode for j in jobs] == [Mode.FAST, Mode.VIDEO, Mode.FAST] and len(callbacks) == 3
    assert django_rq.get_queue("default").job_ids == [j.rq_job_id for j in jobs]  # a queue entry each
    assert all(j.params["strength"] == 1.0 for j in jobs)  # the same settings
    second, _ = post(content=_upload("c.jpg", image_bytes("tubingen.jpg", 300), "image/jpeg"), mode="fast")
    assert "most your account may have at once (1)" in second.content.decode()

    listing = owner_client.get(reverse("engine:my_jobs")).content.decode()
    assert listing.count('id="batch-card-') == 1 and listing.count('class="job-row"') == 0
    assert "0 / 3 done" in listing and listing.count('class="batch-job"') == 3  # one card, its three pictures
    assert all(name in listing for name in ("a.jpg", "pan.mp4", "b.png"))  # the uploaded files' names
    page = owner_client.get(reverse("engine:batch", args=[batch.pk])).content.decode()
    assert page.count('class="batch-job"') == 3 and 'id="batch-zip"' in page
    assert other_client.get(reverse("engine:batch", args=[batch.pk])).status_code == 404

    _small_job(jobs[1])
    StyleJob.objects.filter(pk__in=[jobs[0].pk, jobs[2].pk]).update(size=64, params={**jobs[0].params, "size": 64})
    burst_worker()
    assert set(StyleJob.objects.filter(batch=batch).values_list("status", flat=True)) == {Status.SUCCEEDED}
    response = owner_client.get(reverse("engine:batch_zip", args=[batch.pk]))
    assert response.streaming and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == ["a.png", "b.png", "pan.mp4"]  # named after the files uploaded
    for job, name in zip(jobs, ("a.png", "pan.mp4", "b.png"), strict=True):
        job.refresh_from_db()
        with job.result.open("rb") as fh:
            assert archive.read(name) == fh.read()
    assert "3 / 3 done" in owner_client.get(reverse("engine:my_jobs")).content.decode()


@pytest.mark.parametrize("uploaded, expected", [
    (["IMG_0001.JPG", "img_0001.jpg", "IMG_0001.jpeg"], ["IMG_0001.png", "img_0001-2.png", "IMG_0001-3.png"]),
    (["../../etc/passwd", "C:\\Users\\me\\photo.png", ".hidden.jpg"], ["passwd.png", "photo.png", "hidden.png"]),
    (["été à Paris.jpg", "a<b>|c?.png", "???.jpg", ""], ["été_à_Paris.png", "a_b_c.png", "job-3.png", "job-4.png"]),
    (["x" * 300 + ".jpg"], ["x" * 80 + ".png"]),
])
def test_a_batch_zip_names_its_pictures_after_the_uploaded_files_made_safe_and_unique(uploaded, expected):
    from engine.jobs.batches import zip_entries
    from engine.storage.job_files import RESULT

    done = [StyleJob(pk=n, status=Status.SUCCEEDED, content_name=name, result=f"jobs/x/{RESULT}")
            for n, name in enumerate(uploaded, 1)]
    assert [name for name, _ in zip_entries(done)] == expected


def test_more_files_than_the_batch_quota_are_refused_before_any_is_read(post, owner, image_bytes, media_root,
                                                                          upload_tmp):
    UserQuota.objects.create(user=owner, max_batch_files=2)
    files = [_upload(f"{n}.jpg", image_bytes("tubingen.jpg", 64), "image/jpeg") for n in range(3)]
    response, callbacks = post(content=files)
    assert "You chose 3 files; one submission can take up to 2." in field_errors(response, "content")
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_the_jobs_of_batches_count_against_the_batch_limit(post, owner, image_bytes, media_root):
    """Issue 24, finding 5: a batch took one active-job slot whatever its size, so three batches of 20
    photos gave 45 active jobs under a limit of 3. Each of a batch's jobs now counts against
    max_active_batch_jobs (all the user's batches together); single jobs keep their own limit."""
    UserQuota.objects.create(user=owner, max_active_jobs=3, max_active_batch_jobs=5)

    def photos(n: int) -> list:
        return [_upload(f"{k}.jpg", image_bytes("tubingen.jpg", 64), "image/jpeg") for k in range(n)]

    assert post(content=photos(3), mode="fast")[0].status_code == 302
    refused, callbacks = post(content=photos(3), mode="fast")
    assert ("This batch has 3 files; your batches may have 5 jobs queued or running at once, and 3 are already"
            in refused.content.decode()) and callbacks == []
    assert post(content=photos(1), mode="fast")[0].status_code == 302  # a single job is not a batch's
    assert post(content=photos(2), mode="fast")[0].status_code == 302  # 3 + 2: the batch limit, just
    assert StyleJob.objects.active().count() == 6 and Batch.objects.count() == 2
    refused, _ = post(content=photos(2), mode="fast")
    assert "the most your account may have at once (3)" in refused.content.decode()


def test_a_submissions_clips_together_are_held_to_one_clips_limits(post, owner, clip, media_root, upload_tmp):
    """Issue 24, finding 5: the clip limits held per file, so a batch of 20 clips brought 20 clips'
    work. Together they may have the frames and length of one."""
    UserQuota.objects.create(user=owner, max_clip_frames=20)
    files = [_upload("a.mp4", clip("a.mp4")), _upload("b.mp4", clip("b.mp4"))]  # 12 frames each
    response, callbacks = post(content=files)
    assert ("Together these 2 clips are 1.0 s long and have 24 frames; one submission may bring at most 60 s "
            "and 20 frames of video") in field_errors(response, "content")
    _nothing_stored(callbacks, media_root, upload_tmp)
    assert post(content=[_upload("a.mp4", clip("a.mp4"))])[0].status_code == 302


def test_a_bad_file_in_a_batch_is_named_and_nothing_of_the_batch_is_stored(
        post, clip, image_bytes, media_root, upload_tmp):
    files = [_upload("good.jpg", image_bytes("tubingen.jpg", 300), "image/jpeg"), _upload("pan.mp4", clip()),
             _upload("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)]
    response, callbacks = post(content=files)
    assert "broken.mp4: The clip is damaged or incomplete" in field_errors(response, "content")
    _nothing_stored(callbacks, media_root, upload_tmp)


def test_the_gallery_shows_a_published_batch_as_one_card_that_opens_to_its_artworks(
        make_job, owner, client, image_bytes):
    from engine.models import Visibility

    batch = Batch.objects.create(owner=owner)
    result = image_bytes("tubingen.jpg", 64, fmt="PNG")
    for _ in range(3):
        job = make_job(mode="fast", visibility=Visibility.PUBLIC, batch=batch)
        assert job.start() and job.finish(image_png=result, history=None, device="CPU", network="", seconds=0.1)
    single = make_job(mode="fast", visibility=Visibility.PUBLIC)
    assert single.start() and single.finish(image_png=result, history=None, device="CPU", network="", seconds=0.1)
    grid = client.get(reverse("gallery:index")).content.decode()
    assert grid.count('class="art-card') == 2 and "Batch of 3" in grid
    assert reverse("gallery:batch", args=[batch.pk]) in grid
    page = client.get(reverse("gallery:batch", args=[batch.pk])).content.decode()
    assert page.count('class="art-card') == 3


# --- the command line -----------------------------------------------------------------------------------

def test_the_command_stylises_a_clip_and_a_folder_of_files(tmp_path, photo, images_dir, model_dir, capsys):
    clip_path = clips.make_clip(tmp_path / "pan.mp4", photo, frames=8)
    style = str(images_dir / "starry_night.jpg")
    out = tmp_path / "out.mp4"
    call_command("stylize", str(clip_path), style, "--out", str(out), "--size", "64", "--chunk-frames", "3",
                 "--model-dir", str(model_dir))
    assert video_io.clip_facts(out)["times"] == video_io.clip_facts(clip_path)["times"]
    assert json.loads(out.with_suffix(".json").read_text())["frames"] == 8

    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(photo.read_bytes())
    clips.make_animation(folder / "loop.gif", photo, frames=4)
    results = tmp_path / "results"
    call_command("stylize", str(folder), "--style", style, "--mode", "fast", "--size", "64", "--out", str(results),
                 "--model-dir", str(model_dir))
    assert sorted(p.name for p in results.iterdir()) == ["loop.json", "loop.mp4", "photo.json", "photo.png"]
    (folder / "notes.txt").write_text("not a picture")
    with pytest.raises(CommandError, match="1 of 3 files failed: notes.txt"):
        call_command("stylize", str(folder), "--style", style, "--mode", "fast", "--size", "64", "--out",
                     str(tmp_path / "again"), "--model-dir", str(model_dir))
    assert (tmp_path / "again" / "photo.png").exists()  # the others went on
