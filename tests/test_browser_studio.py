"""The studio in a real browser (headless Chromium, Playwright) against a live server: the style
library picker, image previews, sliders whose values reach the job, images kept after a
server-side error, the estimate following the size, the before/after slider of a finished job,
being told when a job ends (e-mail and browser notification) and the privacy box. Each test saves
screenshots at 1280x900 and 390x844 to test-artifacts/ (studio-<what>-<width>.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.browser import artifact_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZES = ((1280, 900), (390, 844))


def screenshots(page, what: str) -> None:
    """The page as it is now, on a laptop and on a phone, where it must not scroll sideways; back to the
    laptop's size afterwards."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)  # one layout pass at the new width; nothing is asserted on it
        page.screenshot(path=artifact_path(f"studio-{what}-{width}.png"), full_page=True)
        # Nothing wider than the screen (the library's row of paintings scrolls inside its own box).
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (what, width)
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


@pytest.fixture
def library():
    """The bundled paintings (the migration made them; again here after a test that emptied the database)."""
    from engine.models import LibraryStyle
    from engine.studio import style_library

    style_library.create_bundled_rows()
    return {s.bundled: s for s in LibraryStyle.objects.exclude(bundled="")}


@pytest.fixture
def signed_in(page, live_server, owner, cookie, rq_redis, media_root):
    """The page, logged in as the owner (a real session cookie), with Redis for the queue."""
    name, value = cookie(owner).decode().split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
    return page


def open_form(page, live_server, query: str = ""):
    page.goto(live_server.url + reverse("engine:submit") + query)
    page.wait_for_selector("#style-library:not([hidden])")
    return page


def natural_size(locator) -> list[int] | None:
    locator.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=locator.element_handle())
    return locator.evaluate("img => [img.naturalWidth, img.naturalHeight]")


def pick_painting(page, painting) -> None:
    page.click(f"#library-style-{painting.pk}")


def test_picking_a_painting_from_the_library(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server)
    starry, wave = library["starry_night_van_gogh.jpg"], library["great_wave_hokusai.jpg"]
    card = page.locator(f"#library-style-{starry.pk}")
    expect(card).to_contain_text(starry.painter)
    expect(card).to_contain_text(starry.title)
    pick_painting(page, starry)
    pick_painting(page, wave)
    expect(card).to_have_attribute("aria-pressed", "true")
    slot_1, slot_2 = page.locator("#style-slot-1 .slot-painting"), page.locator("#style-slot-2 .slot-painting")
    expect(slot_1).to_contain_text(starry.title)
    expect(slot_2).to_contain_text(wave.title)
    expect(page.locator("#id_style_1_weight")).to_be_visible()  # two styles: their weights appear
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.select_option("select[name=mode]", "fast")
    expect(page.locator("#estimate")).to_have_attribute("data-query", re.compile(r"mode=fast"))
    screenshots(page, "library")

    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job = StyleJob.objects.get()
    assert [(s.position, s.library_style_id) for s in job.styles.order_by("position")] == [
        (1, starry.pk), (2, wave.pk)]


def test_chosen_images_are_previewed_at_once(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    page = open_form(signed_in, live_server)
    photo, style = page.locator('[data-drop-for="content"] .upload-preview'), \
        page.locator('[data-drop-for="style_1"] .upload-preview')
    expect(photo).to_be_hidden()
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    expect(photo).to_be_visible()
    expect(style).to_be_visible()
    assert natural_size(photo) is not None and natural_size(style) is not None  # decoded in the browser
    expect(page.locator('[data-drop-for="content"] .drop-chosen')).to_contain_text("tubingen.jpg")
    screenshots(page, "previews")
    # On a phone the simple view fits in less than three screens.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollHeight") < 3 * 844


def test_slider_values_reach_the_job(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server, "?mode=classic")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    page.click("#advanced-settings summary")
    # Sliders drive the number boxes (same names): log scales for the weights, linear for the rest.
    page.locator("#id_content_weight-slider").fill("250")   # of 1000 positions over 1..1e5
    page.locator("#id_style_weight-slider").fill("750")     # over 1e-4..1e-1
    page.locator("#id_epochs-slider").fill("3")
    page.locator("#id_steps_per_epoch-slider").fill("40")
    content_weight = float(page.input_value("#id_content_weight"))
    style_weight = float(page.input_value("#id_style_weight"))
    assert content_weight == pytest.approx(10 ** 1.25, rel=0.05)
    assert style_weight == pytest.approx(10 ** -1.75, rel=0.05)
    expect(page.locator("#id_epochs")).to_have_value("3")
    expect(page.locator("#id_steps_per_epoch")).to_have_value("40")
    expect(page.locator("#estimate")).to_have_attribute("data-query", re.compile(r"epochs=3&steps_per_epoch=40"))
    screenshots(page, "sliders")

    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    params = StyleJob.objects.get().params
    assert (params["content_weight"], params["style_weight"], params["epochs"], params["steps_per_epoch"]) == (
        content_weight, style_weight, 3, 40)


def test_the_browser_checks_ranges_before_uploading(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server, "?mode=classic")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    page.click("#advanced-settings summary")
    page.fill("#id_epochs", "99")
    page.click("#submit-job")
    expect(page.locator("#field-epochs")).to_contain_text("20")  # said next to the field, nothing sent
    assert reverse("engine:submit") in page.url and not StyleJob.objects.exists()


def test_images_are_kept_after_a_server_side_error(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server)
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    starry = library["starry_night_van_gogh.jpg"]
    pick_painting(page, starry)  # into slot 2
    starry.retired = True        # staff retire it while the form is open: the server refuses it
    starry.save()
    page.select_option("select[name=mode]", "fast")
    page.click("#submit-job")
    page.wait_for_load_state()
    expect(page.locator("#form-errors")).to_contain_text("The images you chose are kept")
    expect(page.get_by_text("That painting is not in the style library any more")).to_be_visible()
    expect(page.locator("#kept-content")).to_contain_text("tubingen.jpg")
    expect(page.locator("#kept-style_1")).to_contain_text("starry_night.jpg")
    assert natural_size(page.locator("#kept-content img")) is not None
    screenshots(page, "kept-images")

    # No file chosen again: the kept photo and style go into the job.
    page.select_option("select[name=mode]", "fast")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job = StyleJob.objects.get()
    assert job.content and [s.library_style_id for s in job.styles.all()] == [None]


def test_the_estimate_follows_the_size(signed_in, live_server, library, images_dir) -> None:
    from playwright.sync_api import expect

    page = open_form(signed_in, live_server, "?mode=classic")  # seconds apart (fast mode: both about 1 s)
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    estimate = page.locator("#estimate")
    expect(estimate).to_be_visible()
    page.fill("#id_size", "256")
    expect(estimate).to_have_attribute("data-query", re.compile(r"size=256\b"))
    small = float(estimate.get_attribute("data-seconds"))
    small_text = page.inner_text("#estimate-time")
    page.fill("#id_size", "1024")
    expect(estimate).to_have_attribute("data-query", re.compile(r"size=1024\b"))
    large = float(estimate.get_attribute("data-seconds"))
    assert large > small
    expect(page.locator("#estimate-time")).not_to_have_text(small_text)
    expect(page.locator("#estimate-memory")).to_contain_text("GB")
    expect(page.locator("#estimate-wait")).not_to_be_empty()
    screenshots(page, "estimate")


def test_a_finished_job_leads_with_the_result_and_a_before_after_slider(
        signed_in, live_server, make_job, burst_worker) -> None:
    from playwright.sync_api import expect

    from engine.jobs import service as jobs
    from engine.models import Status

    job = make_job(size=96, epochs=2, steps_per_epoch=3)  # classic: every download, two epoch previews
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    page = signed_in
    page.goto(live_server.url + reverse("engine:detail", args=[job.pk]))
    result = page.locator("#result-image")
    assert max(natural_size(result)) == 96
    slider = page.locator("#compare-range")
    expect(slider).to_be_visible()
    assert natural_size(page.locator("#compare .compare-before")) is not None
    slider.fill("60")
    expect(page.locator("#compare")).to_have_class(re.compile(r"\bcomparing\b"))
    assert page.locator("#compare").evaluate("box => box.style.getPropertyValue('--cut')") == "60%"
    expect(page.locator("#download-png")).to_be_visible()
    page.click("#job-details summary")  # the other files are under Details
    for kind in ("plot", "csv", "json"):
        expect(page.locator(f"#download-{kind}")).to_be_visible()
    page.click("#job-details summary")
    # On a phone the result is on the first screen, before the job's details.
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    assert result.bounding_box()["y"] < 844 / 2
    assert result.bounding_box()["y"] < page.locator("#job-notify, #publish-toggle").first.bounding_box()["y"]
    screenshots(page, "before-after")

    # The epoch previews open large in a viewer, one epoch to the next.
    page.locator("#epoch-previews a").first.click()
    viewer = page.locator("#preview-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator("figcaption")).to_have_text("Epoch 1 of 2")
    assert natural_size(viewer.locator("img")) is not None
    screenshots(page, "epoch-viewer")
    viewer.locator('[data-go="1"]').click()
    expect(viewer.locator("figcaption")).to_have_text("Epoch 2 of 2")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_being_told_when_a_job_ends(signed_in, live_server, library, images_dir, burst_worker, mailoutbox) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob, VerifiedEmail

    page = signed_in
    owner = get_user_model().objects.get(username="olivia")
    VerifiedEmail.objects.create(user=owner, email=owner.email)  # mail goes to confirmed addresses only
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    open_form(page, live_server)
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    page.select_option("select[name=mode]", "fast")
    page.fill("#id_size", "256")  # the quickest
    page.check("#id_notify_email")
    page.check("#browser-notify")  # a click: the browser is asked for permission here
    expect(page.locator("#browser-notify-state")).to_have_text("This browser will tell you.")
    screenshots(page, "notify-form")

    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job = StyleJob.objects.get()
    assert job.notify_email
    expect(page.locator("#notify-state")).to_contain_text("olivia@example.org")
    expect(page.locator("#browser-notify-button")).to_have_text("Stop telling me in this browser")
    screenshots(page, "notify-job")
    burst_worker()
    assert [m.to for m in mailoutbox] == [["olivia@example.org"]]
    assert f"#{job.pk}" in mailoutbox[0].subject
    # In a background tab, the job's end becomes a notification.
    shown = page.evaluate("""job => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        const note = NST.notifyJobEnded({job: job, status: "succeeded"}, location.href);
        return note && note.title;
    }""", job.pk)
    assert shown == f"Your picture is ready (job #{job.pk})"


@contextmanager
def as_visitor(page, url: str) -> Iterator:
    """Open url as a visitor who is not logged in, screenshot it, and log the page back in."""
    cookies = page.context.cookies()
    page.context.clear_cookies()
    try:
        page.goto(url)
        yield page
    finally:
        page.context.add_cookies(cookies)


def test_publishing_keeps_the_photo_private_unless_shared(
        signed_in, live_server, library, images_dir, burst_worker) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server)
    expect(page.locator("label[for=id_share_originals]")).to_contain_text("photo")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    page.select_option("select[name=mode]", "fast")
    page.fill("#id_size", "256")  # the quickest
    page.check("#id_publish")
    expect(page.locator("#id_share_originals")).not_to_be_checked()
    screenshots(page, "privacy-form")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    burst_worker()
    job = StyleJob.objects.get()
    gallery_url = live_server.url + reverse("gallery:detail", args=[job.artwork.pk])
    content_thumb = reverse("gallery:thumbnail", args=[job.artwork.pk, "content"])

    with as_visitor(page, gallery_url) as visitor:
        expect(visitor.locator("#made-from")).to_contain_text("Picabia")  # the painting is credited
        expect(visitor.locator(f'img[src="{content_thumb}"]')).to_have_count(0)
        screenshots(visitor, "privacy-gallery-private")

    page.reload()
    expect(page.locator("#share-originals-state")).to_contain_text("only the result")
    page.click("#share-originals-button")
    expect(page.locator("#share-originals-state")).to_contain_text("your photo and style images")
    with as_visitor(page, gallery_url) as visitor:
        expect(visitor.locator(f'img[src="{content_thumb}"]')).to_have_count(1)
        screenshots(visitor, "privacy-gallery-shared")


# --- issue 23: the first try, the form's files, estimates that hold, remix -----------------------------

def test_the_form_opens_in_fast_mode_at_the_quick_size_with_presets_only_in_classic(
        signed_in, live_server, library, images_dir, owner) -> None:
    from playwright.sync_api import expect

    from engine.models import UserQuota

    page = open_form(signed_in, live_server)
    expect(page.locator("#id_mode")).to_have_value("fast")
    expect(page.locator("#id_size")).to_have_value("1024")  # the quota's largest: well within 3 s here
    expect(page.locator("#preset-box")).to_be_hidden()        # classic's presets, not fast mode's
    assert page.locator("#id_size-slider").get_attribute("max") == "1024"
    screenshots(page, "first-try-fast")
    page.select_option("select[name=mode]", "classic")
    expect(page.locator("#preset-box")).to_be_visible()
    expect(page.locator("#id_preset option[value=quick]")).to_have_text(
        re.compile(r"^Quick: 256 px, 3 × 10 steps, about \d+ s$"))
    screenshots(page, "classic-presets")

    # A larger quota: the size box and its slider follow the mode's own largest size.
    UserQuota.objects.create(user=owner, max_size=4096)
    page = open_form(page, live_server)
    assert page.locator("#id_size-slider").get_attribute("max") == "4096"
    page.fill("#id_size", "3000")
    page.select_option("select[name=mode]", "classic")     # classic makes up to 2048 px
    assert page.locator("#id_size-slider").get_attribute("max") == "2048"
    expect(page.locator("#id_size")).to_have_value("2048")
    page.fill("#id_size", "3000")                          # typed: refused before anything is sent
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    pick_painting(page, library["udnie_picabia.jpg"])
    page.click("#submit-job")
    expect(page.locator("#field-size")).to_contain_text("between 256 and 2048")
    screenshots(page, "size-bounds")


def test_the_drop_zones_show_each_file_once_and_a_batch_can_lose_one(
        signed_in, live_server, library, images_dir, tmp_path) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    page = open_form(signed_in, live_server)
    content = page.locator("input[name=content]")
    # The browser's own "Choose files / No file chosen" is out of sight, but labelled and focusable.
    assert content.bounding_box()["width"] <= 1 and content.bounding_box()["height"] <= 1
    expect(page.locator("label[for=id_content]")).to_be_visible()
    content.focus()
    assert page.evaluate("document.activeElement.id") == "id_content"
    assert page.locator('[data-drop-for="content"]').evaluate("zone => zone.matches(':focus-within')")
    photos = []
    for name in ("tubingen.jpg", "golden_gate.jpg", "starry_night.jpg"):
        photos.append(images_dir / name)
    page.set_input_files("input[name=content]", photos)
    items = page.locator("#content-files li")
    expect(items).to_have_count(3)
    expect(page.locator("#submit-job")).to_have_text("Submit 3 jobs")
    pick_painting(page, library["great_wave_hokusai.jpg"])
    expect(page.locator("#estimate")).to_have_attribute("data-query", re.compile(r"photos=3"))
    expect(page.locator("#estimate-time")).to_contain_text("for 3 jobs")
    three = float(page.locator("#estimate").get_attribute("data-seconds"))
    screenshots(page, "batch-list")
    page.click("button[aria-label='Remove golden_gate.jpg']")
    expect(items).to_have_count(2)
    expect(page.locator("#submit-job")).to_have_text("Submit 2 jobs")
    assert page.evaluate("Array.from(document.getElementById('id_content').files).map(f => f.name)") == [
        "tubingen.jpg", "starry_night.jpg"]
    expect(page.locator("#estimate")).to_have_attribute("data-query", re.compile(r"photos=2"))
    assert float(page.locator("#estimate").get_attribute("data-seconds")) < three
    page.fill("#id_size", "256")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/batch/\d+/$"))
    assert sorted(StyleJob.objects.values_list("size", flat=True)) == [256, 256]


def test_a_clip_shows_its_first_frame_and_its_length_sets_the_estimate(
        signed_in, live_server, library, images_dir, tmp_path) -> None:
    from playwright.sync_api import expect

    from tests.clips import make_clip

    clip = make_clip(tmp_path / "three-seconds.mp4", images_dir / "tubingen.jpg", frames=72, width=320, height=240,
                     fps=24)
    page = open_form(signed_in, live_server)
    pick_painting(page, library["great_wave_hokusai.jpg"])
    page.set_input_files("input[name=content]", clip)
    expect(page.locator("#id_mode")).to_have_value("video")
    frame = page.locator('[data-drop-for="content"] .upload-clip')
    expect(frame).to_be_visible()
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth === 320", arg=frame.element_handle())
    expect(page.locator('[data-drop-for="content"] .drop-chosen')).to_contain_text("3.0 s")
    estimate = page.locator("#estimate")
    expect(estimate).to_have_attribute("data-query", re.compile(r"frames=72\b"))  # 3 s at 24 frames/s, read
    expect(page.locator("#estimate-time")).to_contain_text("for this 3.0 s clip")
    screenshots(page, "clip-first-frame")


def _published_by_oscar(make_job, other_user, image_bytes, painting=None, upload: bool = False):
    """A succeeded public fast job of another user in the gallery (nothing shared): style 1 `painting`
    of the library, and/or an uploaded image."""
    from engine.models import Visibility
    from engine.nst import images

    names = (("great_wave.jpg",) if painting else ()) + (("starry_night.jpg",) if upload else ())
    job = make_job(mode="fast", size=64, user=other_user, styles=tuple("starry_night.jpg" for _ in names),
                   visibility=Visibility.PUBLIC)
    if painting:
        job.styles.filter(position=1).update(library_style=painting)
    result = images.encode_png(images.open_image(image_bytes("golden_gate.jpg", 160)))
    assert job.start(worker="test") and job.finish(image_png=result, history=None, device="CPU", network="",
                                                   seconds=0.1)
    return job


def test_a_remix_of_a_painting_needs_only_a_photo_and_credits_its_artwork(
        signed_in, live_server, library, images_dir, make_job, other_user, image_bytes) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    wave = library["great_wave_hokusai.jpg"]
    source = _published_by_oscar(make_job, other_user, image_bytes, painting=wave)
    page = signed_in
    page.goto(live_server.url + reverse("gallery:detail", args=[source.artwork.pk]))
    page.click("#remix-link")
    expect(page.locator("#remix-note")).to_contain_text("The Great Wave off Kanagawa")
    expect(page.locator("#remix-private")).to_have_count(0)
    expect(page.locator(f"#library-style-{wave.pk}")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#style-slot-1 .slot-painting")).to_contain_text("Hokusai")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    screenshots(page, "remix-painting-form")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job = StyleJob.objects.get(owner__username="olivia")
    assert job.remix_of_id == source.pk and job.styles.get().library_style_id == wave.pk
    credit = page.locator("#remix-credit")
    expect(credit).to_have_text(f"Remix of {source.artwork.title} by oscar")  # the work's title (issue 23)
    assert credit.locator("a").get_attribute("href") == reverse("gallery:detail", args=[source.artwork.pk])
    screenshots(page, "remix-job")


def test_a_remix_of_a_private_style_asks_for_a_style_before_the_photo(
        signed_in, live_server, library, images_dir, make_job, other_user, image_bytes) -> None:
    from playwright.sync_api import expect

    from engine.models import StyleJob

    source = _published_by_oscar(make_job, other_user, image_bytes, upload=True)
    page = signed_in
    page.goto(live_server.url + reverse("engine:submit") + f"?remix={source.artwork.pk}")
    note = page.locator("#remix-private")
    expect(note).to_contain_text("First, choose a style")
    # The style card comes first on the page, on a laptop and on a phone.
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.locator("#style-card").bounding_box()["y"] < page.locator("#photo-card").bounding_box()["y"]
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshots(page, "remix-private-form")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.click("#submit-job")  # no style yet: asked for next to the slot, nothing sent
    expect(page.locator("#style-slot-1")).to_contain_text("Pick a painting or choose a style image.")
    assert not StyleJob.objects.filter(owner__username="olivia").exists()
    pick_painting(page, library["mauclair_vallotton.jpg"])
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    assert StyleJob.objects.get(owner__username="olivia").remix_of_id == source.pk


@pytest.mark.django_db(transaction=True)
def test_from_the_home_page_a_1024_px_result_takes_three_clicks_and_a_photo(live_platform, tmp_path, images_dir):
    """Issue 23: a signed-in user reaches a 1024 px result in at most 3 clicks plus choosing a photo:
    "Quick try", a painting, "Submit job"; the job's page then shows the result as the worker finishes
    it (live, no reload)."""
    from playwright.sync_api import expect

    from tests.browser import chromium_context

    platform = live_platform
    with chromium_context(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(platform.url + "/accounts/signup/")
        for name, value in (("username", "firsttry"), ("email", "first@example.org"),
                            ("password1", "Brush-strokes-of-1889"), ("password2", "Brush-strokes-of-1889")):
            page.fill(f"input[name={name}]", value)
        page.click("#signup-submit")
        page.wait_for_url(re.compile(r"/jobs/new/"))
        page.goto(platform.url + "/")
        page.evaluate("window.__clicks = 0")
        clicks = 0

        def click(selector: str) -> None:
            nonlocal clicks
            clicks += 1
            page.click(selector)

        click("#quick-try")
        page.wait_for_selector("#style-library:not([hidden])")
        page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")  # choosing the photo
        click(".library-card >> nth=1")
        click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+/$"))
        try:
            platform.start_worker("worker")
            result = page.locator("#result-image")
            expect(result).to_be_visible(timeout=180_000)
        except Exception as exc:  # Playwright's TimeoutError or an assertion: say what the server did
            raise AssertionError(f"{exc}\n{platform.logs()}") from None
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=result.element_handle())
        size = result.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert clicks <= 3 and max(size) == 1024, (clicks, size)
        screenshots(page, "first-result")


def test_the_home_page_shows_three_examples_made_here_and_speaks_of_paintings(page, live_server) -> None:
    from playwright.sync_api import expect

    from engine.home_examples import EXAMPLES

    page.goto(live_server.url + "/")
    examples = page.locator("#examples .example")
    expect(examples).to_have_count(3)
    for example in EXAMPLES:
        card = page.locator(f"#example-{example.slug}")
        painter, title, _ = example.painting_credit
        expect(card).to_contain_text(painter)
        expect(card).to_contain_text(title)
        for img in card.locator("img").all():
            img.scroll_into_view_if_needed()
            assert natural_size(img) is not None
    text = page.inner_text("body")  # the footer too: it is on the home page
    assert "VGG" not in text and "Gatys" not in text and "network" not in text and "painting" in text
    expect(page.locator("#quick-try")).to_be_visible()
    screenshots(page, "home")
