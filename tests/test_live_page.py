"""The live job page's state is rendered once, on the server (engine.live.job_page): the scripts that follow
jobs build none of it and hold none of its wording, the reconnect code exists once, each audience's
rendering follows the permission rule, and an event is rendered once per audience whatever the
number of watching sockets. (That a page open through a run ends as a reload shows it, in Chromium
with a real worker: tests/test_live_consumer.py and tests/test_video_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser

from engine.live import job_page
from engine.live import updates as live
from engine.models import StyleJob, Visibility
from tests.web_client import communicator

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "static" / "js"
TEMPLATES = REPO / "templates" / "engine"
# DOM calls that make or insert markup. A live page's script may use them only inside
# live_socket.js's fragment swap, which puts the server's rendering in place.
BUILDS_MARKUP = re.compile(r"createElement\(|\.innerHTML|\.outerHTML|insertAdjacent(HTML|Element)\(|DOMParser"
                           r"|createContextualFragment|document\.write|\.(append|prepend|before|after|replaceWith"
                           r"|replaceChildren|appendChild|insertBefore|cloneNode)\(")
SWAP_REGION = re.compile(r"// fragment-swap: begin.*?// fragment-swap: end", re.S)
OPENS_A_SOCKET = re.compile(r"new WebSocket\(|liveSocket\(|swapFragments\(")


def live_scripts() -> dict[str, str]:
    """The site's scripts that follow jobs (open a socket or swap fragments), by file name."""
    scripts = {path.name: path.read_text() for path in sorted(SCRIPTS.glob("*.js"))}
    return {name: text for name, text in scripts.items() if OPENS_A_SOCKET.search(text)}


def markup_building_lines(source: str) -> list[str]:
    """The lines of a script that build markup, outside the one fragment swap."""
    return [line.strip() for line in SWAP_REGION.sub("", source).splitlines()
            if BUILDS_MARKUP.search(line) and not line.strip().startswith("//")]


def state_phrases() -> set[str]:
    """The wording of the job page's state partials (engine/job_state/, the modes', the list entries):
    each run of text between tags and template code, of two words or more."""
    names = [*TEMPLATES.glob("job_state/*.html"), *TEMPLATES.glob("modes/*/*.html"), TEMPLATES / "_job_row.html",
             TEMPLATES / "_batch_item.html", TEMPLATES / "_result.html", TEMPLATES / "_video_result.html",
             TEMPLATES / "_delete_job.html", TEMPLATES / "_publish_toggle.html", TEMPLATES / "_job_notify.html"]
    phrases = set()
    for path in names:
        text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}|\{#.*?#\}", " ", path.read_text(), flags=re.S)
        text = re.sub(r"\{%.*?%\}|\{\{.*?\}\}|<[^>]*>", "\n", text, flags=re.S)
        for run in text.splitlines():
            run = " ".join(run.replace("·", " ").split()).strip(" .,;:()")
            if len(run.split()) >= 2:
                phrases.add(run)
    return phrases


def test_the_scripts_that_follow_jobs_are_the_ones_expected():
    # A new live page's script is checked below as soon as it opens a socket.
    assert set(live_scripts()) == {"job.js", "batch.js", "my_jobs.js", "live_socket.js"}


def test_the_live_pages_scripts_build_no_job_state_markup():
    found = {name: markup_building_lines(text) for name, text in live_scripts().items()}
    assert found == {name: [] for name in found}
    # The one swap is there, and is the only place such a call appears in them.
    assert "parsed.innerHTML = html" in SWAP_REGION.search(live_scripts()["live_socket.js"]).group(0)


def test_the_markup_check_finds_markup_built_in_a_script():
    """The checks above, on lines of the job page's script as it was before (a test that cannot fail is a defect)."""
    before = """
      const box = make("div", { class: "message message-error", id: "job-error", role: "alert" });
      box.append(make("strong", {}, "The job failed."), " ", make("span", {}, ev.message || ""));
      function make(tag) { const node = document.createElement(tag); return node; }
      section.after(downloads);
      // box.append(x) in a comment is not code
    """
    assert len(markup_building_lines(before)) == 3
    assert "The job failed" in " ".join(state_phrases())


def runner_words() -> set[str]:
    """The telling words of each runner's progress wording (engine.runners), which the templates show:
    capitalised or with a slash ("Epoch", "Frame", "frames/s"); lower-case ones like "step" also name
    the chart's axis, which the script draws."""
    from engine.models import StyleJob
    from engine.runners import RUNNERS

    words = set()
    for mode, runner in RUNNERS.items():
        sample = StyleJob(mode=mode, epoch=2, epochs=5, step=40, total_steps=100)
        text = runner.progress_text(sample, fps=4.5) + runner.rate_text(4.5)
        words |= {word for word in re.findall(r"[A-Za-z/]{4,}", text) if word[0].isupper() or "/" in word}
    return words


def test_no_wording_of_the_job_page_state_is_in_the_scripts():
    phrases, words = state_phrases(), runner_words()
    assert {"Position in the queue", "frames to stylise", "This job is next in the queue"} <= phrases
    assert {"Epoch", "Frame", "frames/s", "Stylising"} <= words
    for name, text in live_scripts().items():
        literals = " ".join(re.findall(r'"([^"\n]*)"', text))
        assert [p for p in phrases if p in literals] == [], name
        assert [w for w in words if re.search(rf"\b{re.escape(w)}\b", literals)] == [], name


def test_the_reconnect_code_exists_once():
    scripts = {path.name: path.read_text() for path in SCRIPTS.glob("*.js")}
    assert [name for name, text in scripts.items() if "new WebSocket(" in text] == ["live_socket.js"]
    assert [name for name, text in scripts.items() if re.search(r"setTimeout\(connect", text)] == ["live_socket.js"]


# --- audiences ------------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("shared", [False, True])
def test_each_audience_is_shown_what_the_permission_rule_allows(make_job, owner, other_user, staff_user, shared):
    job = make_job(visibility=Visibility.PUBLIC)
    StyleJob.objects.filter(pk=job.pk).update(share_originals=shared)
    job.refresh_from_db()
    for user in (owner, staff_user, other_user, AnonymousUser()):
        context = job_page.context(job, job_page.audience_for(user, job.owner_id))
        assert context["show_originals"] == job.originals_visible_to(user), user
        assert context["show_placement"] == job.placement_visible_to(user), user
        assert context["can_cancel"] == job.can_cancel(user), user
        assert context["is_owner"] == (user == owner), user


@pytest.mark.django_db
def test_a_running_jobs_page_shows_its_mode_wording(make_job, owner_client):
    from django.urls import reverse

    classic, fast = make_job(mode="classic", epochs=2, steps_per_epoch=5), make_job(mode="fast")
    for job in (classic, fast):
        assert job.start(worker="w")
        job.report_progress(epoch=1, step=job.total_steps, eta_seconds=4.0)
    page = owner_client.get(reverse("engine:detail", args=[classic.pk])).content.decode()
    assert '<span id="progress-text">Epoch 1 of 2, step 10 of 10</span>' in page
    page = owner_client.get(reverse("engine:detail", args=[fast.pk])).content.decode()
    assert '<span id="progress-text">Stylising</span>' in page  # the default partial: fast mode has none


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_event_is_rendered_once_per_audience_whatever_the_number_of_sockets(
        make_job, owner, other_user, staff_user, cookie, rq_redis, monkeypatch):
    job = await sync_to_async(make_job)(visibility=Visibility.PUBLIC)
    watchers = [owner, owner, staff_user, other_user, other_user, None, None]
    sockets = []
    for user in watchers:
        comm = communicator(f"/ws/jobs/{job.pk}/", await sync_to_async(cookie)(user))
        assert (await comm.connect(timeout=5))[0]
        await comm.receive_json_from(timeout=5)  # the snapshot (rendered for each socket: it is its own)
        sockets.append(comm)
    rendered = []
    real = job_page.render_to_string
    monkeypatch.setattr(job_page, "render_to_string", lambda name, ctx: rendered.append(name) or real(name, ctx))

    await sync_to_async(job.cancel)()
    assert await sync_to_async(live.publish_final)(job)
    received = [await comm.receive_json_from(timeout=10) for comm in sockets]
    for comm in sockets:
        await comm.disconnect()

    shared = [p for p in job_page.PARTS.values() if not p.per_audience]
    own = [p for p in job_page.PARTS.values() if p.per_audience]
    assert len(rendered) == len(shared) + len(job_page.AUDIENCES) * len(own) + 1  # + the "my jobs" row
    assert {event["event"] for event in received} == {"cancelled"}
    # Each audience got its own: the owner the publish box, staff the delete form, others neither.
    assert 'id="publish-toggle"' in received[0]["html"] and received[0]["html"] == received[1]["html"]
    assert 'id="delete-section"' in received[2]["html"] and 'id="publish-toggle"' in received[2]["html"]
    assert all('id="delete-section"' not in event["html"] for event in received[3:])
