"""The job page's state, rendered once, on the server: the context its state partials take, and the
fragments a live page swaps in.

A job's page shows its state through a few partials, each one element with an id:
templates/engine/job_state/ (status, cancel button, queue text, progress, how it ended, the result
with its downloads, the run table with the finished time, the delete form, the publish box, the
e-mail switch) and the mode's own (templates/engine/modes/<mode>/, chosen in the templates by the
job's mode: classic mode's epoch previews and loss plot, a clip's latest frame). The detail view
includes them with `context()`; engine.live.updates renders the same partials with the same context when a
job changes, and the page's script (static/js/live_socket.js) replaces each element by the
fragment's element of the same id. A reload and a page open all along show the same markup; the
JavaScript draws the loss chart and swaps, it builds none of this.

Audiences. What some partials show depends on who looks, by the rule of engine.models: those who
may manage the job (its owner and staff) see where it runs (worker, device), its originals (the
photo the result is compared with) and the cancel and delete forms; its owner also the publish box
and the e-mail switch. A live event goes to many sockets, so its fragments are rendered once per
audience (OWNER, STAFF, PUBLIC), not per socket, and each socket gets its own audience's; the parts
that are the same for everyone are rendered once for all (ALL_AUDIENCES).

Progress events too carry their part rendered (the progress bar and its text, ~1 KiB with the
numbers), not numbers for the page to word: the wording is the mode's runner's ("Epoch 2 of 3,
step 40 of 90", "Frame 30 of 60 · stylising 4.2 frames/s", "Stylising"; engine.runners), and a
second wording in the script is how the page had drifted. Their numbers (loss points, step, ETA) stay for the chart.

CSRF. A fragment's forms carry CSRF_PLACEHOLDER as their token; each socket puts in its own
(engine.live.consumers), as a page's render puts in its request's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import reverse

from engine.models import Status, StyleJob, may_manage, progress_percent
from engine.storage.job_files import download_links, is_result_kind, preview_epochs

OWNER, STAFF, PUBLIC = "owner", "staff", "public"
AUDIENCES = (OWNER, STAFF, PUBLIC)
ALL_AUDIENCES = "all"  # the key of the parts rendered once for everyone
CSRF_PLACEHOLDER = "@@csrf-token@@"


@dataclass(frozen=True)
class Part:
    template: str
    per_audience: bool = False  # its markup depends on who looks


PARTS: dict[str, Part] = {
    "actions": Part("engine/job_state/_actions.html", per_audience=True),
    "status": Part("engine/job_state/_status.html"),
    "result": Part("engine/job_state/_result.html", per_audience=True),
    "end": Part("engine/job_state/_end.html"),
    "queue": Part("engine/job_state/_queue.html"),
    "progress": Part("engine/job_state/_progress.html"),
    "notify": Part("engine/job_state/_notify.html", per_audience=True),
    "publish": Part("engine/job_state/_publish.html", per_audience=True),
    "live": Part("engine/job_state/_live.html"),
    "run": Part("engine/job_state/_run.html", per_audience=True),
    "delete": Part("engine/job_state/_delete.html", per_audience=True),
}
# What changes with each kind of event (a snapshot and a job's end: everything).
EVERYTHING = tuple(PARTS)
QUEUED = ("status", "queue", "progress")
STARTED = ("status", "queue", "progress", "run")
PROGRESS = ("progress",)
NEW_PREVIEW = ("progress", "live")
BATCH_ITEM = "engine/_batch_item.html"
JOB_ROW = "engine/_job_row.html"


@dataclass(frozen=True)
class ProgressState:
    """A running job's progress as a live event tells it: the worker's numbers, newer than the row's
    (the row is saved less often than events go out). Named as StyleJob's fields, so the partials
    (and the runners' wording, engine.templatetags.runners) take either: `progress` is the job
    itself on a page."""
    mode: str
    status: str
    epoch: int
    epochs: int
    step: int
    total_steps: int
    eta_seconds: float | None
    fps: float | None = None

    @property
    def progress_percent(self) -> int:
        return progress_percent(self.status, self.step, self.total_steps)


def audience_for(user, owner_id: int) -> str:
    """Which rendering of a job's page `user`, who may see the job, gets (engine.models' rule)."""
    if user.is_authenticated and user.pk == owner_id:
        return OWNER
    return STAFF if may_manage(user, owner_id) else PUBLIC


def preview_url(job: StyleJob, epoch: int) -> str:
    # ?s=<step> keeps a browser from showing an older file of the same epoch (a resumed run).
    return f"{reverse('engine:preview', args=[job.pk, epoch])}?s={job.step}"


def previews(job: StyleJob) -> list[dict]:
    return [{"epoch": n, "url": preview_url(job, n)} for n in preview_epochs(job)]


def result_dims(job: StyleJob) -> tuple[int, int] | None:
    """(width, height) of the result, as the worker recorded it: the page reserves its space."""
    dims = (job.measurements or {}).get("dims")
    return (dims[1], dims[0]) if dims and len(dims) == 2 else None


def context(job: StyleJob, audience: str, *, estimate=None, progress: ProgressState | None = None,
            stopping: bool = False) -> dict:
    """What the state partials need, as `audience` sees `job`. `estimate`: a queued job's place
    (engine.costs.estimates.QueueEstimate); `progress`: a live event's numbers (default: the row's);
    `stopping`: a running job's cancel, before its worker has stopped."""
    manage = audience in (OWNER, STAFF)  # engine.models.may_manage, for this audience
    links = download_links(job)
    return {
        "job": job, "progress": progress or job, "estimate": estimate, "stopping": stopping,
        "is_owner": audience == OWNER, "is_staff": audience == STAFF,
        "can_cancel": manage and job.is_active,
        "can_delete": manage and not job.is_active,
        # engine.models.may_see_originals and may_see_placement, for this audience
        "show_originals": manage or job.share_originals,
        "show_placement": manage,
        # The result's own download, by the picture; the other files (loss history, plot) in Details.
        "downloads": [link for link in links if is_result_kind(link[0])],
        "files": [link for link in links if not is_result_kind(link[0])],
        # Its owner may start again from the same photo (a clip is not kept: engine.studio.staged_uploads).
        "another_style": audience == OWNER and job.status == Status.SUCCEEDED and not job.content_is_video,
        "previews": previews(job),
        "result_dims": result_dims(job),
    }


def render(job: StyleJob, names: tuple[str, ...], audiences: tuple[str, ...] = AUDIENCES, **kwargs) -> dict[str, str]:
    """The parts `names` of the page of `job`, as fragments: {ALL_AUDIENCES: the parts the same for
    everyone, each of `audiences`: its own rendering of the others}. A job in a batch also brings
    its entry of the batch's page (static/js/batch.js follows other people's batches over the jobs'
    sockets). `kwargs`: those of context()."""
    shared = [PARTS[name].template for name in names if not PARTS[name].per_audience]
    own = [PARTS[name].template for name in names if PARTS[name].per_audience]
    if job.batch_id is not None:
        shared.append(BATCH_ITEM)
    out = {ALL_AUDIENCES: _render_all(shared, context(job, PUBLIC, **kwargs))} if shared else {}
    for audience in audiences if own else ():
        out[audience] = _render_all(own, context(job, audience, **kwargs))
    return out


def for_audience(fragments: dict[str, str], audience: str) -> str:
    """What one audience gets of render()'s fragments."""
    return fragments.get(ALL_AUDIENCES, "") + fragments.get(audience, "")


def list_entry(job: StyleJob, progress: ProgressState | None = None) -> str:
    """The job's entry in its owner's lists: its row in "my jobs", or, for a job in a batch, its
    item on the batch's page."""
    template = BATCH_ITEM if job.batch_id is not None else JOB_ROW
    return render_to_string(template, {"job": job, "progress": progress or job})


def _render_all(templates: list[str], ctx: dict) -> str:
    ctx = {**ctx, "csrf_token": CSRF_PLACEHOLDER}
    return "".join(render_to_string(name, ctx) for name in templates)
