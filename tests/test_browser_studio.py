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
    assert page.url.endswith(reverse("engine:submit")) and not StyleJob.objects.exists()


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

    page = open_form(signed_in, live_server)
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
    for kind in ("png", "plot", "csv", "json"):
        expect(page.locator(f"#download-{kind}")).to_be_visible()
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
