"""Pages for style jobs: submit (also as a remix of a gallery artwork), my jobs, a job's page,
cancel, publish/unpublish, downloads, epoch previews; and the home page.

Short functions and one access helper: `_get_job_for_user` gives 404 for a job the user may not
see (someone else's private job), so a job's existence is not revealed either.
"""

from __future__ import annotations

import json
import logging
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from engine import presets
from engine.nst import LossHistory, schema
from gallery import publishing
from gallery.models import Artwork
from nstsite.sendfile import send_file

from . import events, jobs, live, quotas
from .describe import param_rows
from .estimates import estimate_queue
from .forms import StyleJobForm
from .job_files import download_links, download_spec, file_for, preview_epochs, preview_file
from .models import Mode, Status, StyleJob

JOBS_PER_PAGE = 20
STORAGE_FAILED = ("Your images could not be saved just now, so the job was not created. "
                  "Please try again in a few minutes.")

logger = logging.getLogger(__name__)


def _get_job_for_user(request: HttpRequest, pk: int, *, manage: bool = False) -> StyleJob:
    """The job if `request.user` may see it (or, with manage=True, manage it), else 404."""
    allowed = (StyleJob.objects.manageable_by(request.user) if manage
               else StyleJob.objects.visible_to(request.user))
    return get_object_or_404(allowed.select_related("owner"), pk=pk)


def home(request: HttpRequest) -> HttpResponse:
    recent = StyleJob.objects.for_user(request.user)[:5] if request.user.is_authenticated else []
    public = StyleJob.objects.public().filter(status=Status.SUCCEEDED).select_related("owner")[:6]
    return render(request, "home.html", {"recent_jobs": recent, "public_jobs": public})


@login_required
def submit(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = StyleJobForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                job = _create_job(request, form)
            except OSError:  # the disk (full, read-only): create_job has removed what it wrote
                logger.exception("Could not store the files of a new job")
                form.add_error(None, STORAGE_FAILED)
                return render(request, "engine/submit.html", _submit_context(form, form.cleaned_data.get("remix")),
                              status=503)
            if job is not None:
                if job.status == Status.QUEUED:  # not failed by an unreachable queue (enqueue ran on commit)
                    messages.success(request, f"Job {job.pk} is queued.")
                return redirect("engine:detail", pk=job.pk)
        remix = form.cleaned_data.get("remix")
    else:
        remix = _remixed_artwork(request)
        initial = _initial_from_artwork(remix) if remix else _initial_from_query(request)
        form = StyleJobForm(initial=initial, user=request.user)
    return render(request, "engine/submit.html", _submit_context(form, remix))


def _submit_context(form: StyleJobForm, remix: Artwork | None) -> dict:
    return {"form": form, "presets": presets.as_json(), "remix": remix,
            "remix_styles": list(remix.job.styles.all()) if remix else []}


def _create_job(request: HttpRequest, form: StyleJobForm) -> StyleJob | None:
    """The job of a valid form, queued after commit; None (and an error on the form) over quota."""
    try:
        return jobs.submit(request.user, partial(form.create_job, request.user))
    except quotas.QuotaExceeded as exc:
        form.add_error(None, str(exc))
        return None


def _remixed_artwork(request: HttpRequest) -> Artwork | None:
    """The published artwork named by ?remix=<pk>; None (with a message) if it is not in the gallery."""
    pk = request.GET.get("remix")
    if not pk:
        return None
    artwork = (Artwork.objects.public().select_related("job", "owner").filter(pk=pk).first()
               if pk.isdigit() else None)
    if artwork is None:
        messages.info(request, "That artwork is not in the gallery (any more); here is an empty form.")
    return artwork


def _initial_from_artwork(artwork: Artwork) -> dict:
    """The form as the artwork's job was submitted, minus the photo: its mode, its settings and
    (through the hidden remix field) its style images with their weights."""
    job = artwork.job
    params = job.engine_params()
    initial = {"mode": job.mode, "preset": presets.CUSTOM, "remix": artwork.pk}
    initial.update({c.name: getattr(params, c.name) for c in schema.controls(job.mode, web=True)})
    for style in job.styles.all():
        initial[f"style_{style.position}_weight"] = style.weight
    return initial


def _initial_from_query(request: HttpRequest) -> dict:
    """/jobs/new/?preset=quick&mode=fast fills the form in (links on the home page)."""
    mode = request.GET.get("mode") if request.GET.get("mode") in Mode.values else Mode.CLASSIC
    preset = request.GET.get("preset", presets.CUSTOM)
    initial = {"mode": mode, **presets.values(preset, mode)}
    if preset in presets.PRESETS:
        initial["preset"] = preset
    return initial


@login_required
def my_jobs(request: HttpRequest) -> HttpResponse:
    jobs = StyleJob.objects.for_user(request.user)
    status = request.GET.get("status")
    if status in Status.values:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": Status.choices,
               "has_active": any(job.is_active for job in page.object_list)}
    return render(request, "engine/my_jobs.html", context)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    context = {
        "job": job,
        "styles": list(job.styles.all()),
        "params": param_rows(job),
        "can_cancel": job.can_cancel(request.user),
        "is_owner": request.user.is_authenticated and request.user.pk == job.owner_id,
        "estimate": estimate_queue(job) if job.status == Status.QUEUED else None,
        "downloads": download_links(job),
        "previews": events.previews(job),
        "epoch_losses": _epoch_losses(job),
    }
    return render(request, "engine/detail.html", context)


def _epoch_losses(job: StyleJob) -> list[list[float]]:
    """The loss at the end of each epoch so far (and the latest step), for the page without
    JavaScript; a succeeded job shows its full loss plot instead."""
    if job.mode != Mode.CLASSIC or job.status == Status.SUCCEEDED:
        return []
    points = live.losses_so_far(job)
    per_epoch = max(1, job.total_steps // max(1, job.epochs))
    rows = [p for p in points if p[0] % per_epoch == 0]
    if points and (not rows or rows[-1][0] != points[-1][0]):
        rows.append(points[-1])
    return rows


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk, manage=True)
    if jobs.cancel(job):
        messages.success(request, f"Job {job.pk} is cancelled.")
    else:
        status = job.get_status_display().lower()
        messages.info(request, f"Job {job.pk} had already {status}; nothing to cancel.")
    return redirect("engine:detail", pk=job.pk)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's publish/unpublish toggle (POST publish=1 or 0). Staff may unpublish any job
    (moderation); only its owner may publish one."""
    job = _get_job_for_user(request, pk, manage=True)
    if request.POST.get("publish") != "1":
        publishing.unpublish(job)
        messages.success(request, f"Job {job.pk} is private: it is not in the gallery.")
    elif job.owner_id != request.user.pk:
        messages.error(request, "Only its owner can publish a job.")
    else:
        try:
            artwork = publishing.publish(job)
        except publishing.NotPublishable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Job {job.pk} is in the gallery." if artwork else
                             f"Job {job.pk} will be in the gallery once it has finished.")
    return redirect("engine:detail", pk=job.pk)


# --- downloads ----------------------------------------------------------------------------------

def download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """A job's files, through this view (never a public /media/ URL): private jobs stay private.
    ?inline=1 shows the file in the browser instead of saving it. Which files exist and what they
    are called: engine.job_files."""
    job = _get_job_for_user(request, pk)
    field = file_for(job, kind)
    if not field:
        raise Http404("This job has no such file (yet).")
    spec = download_spec(kind)
    filename = f"nst-job-{job.pk}{spec.suffix}"
    if kind in ("csv", "json"):
        with field.open("rb") as fh:
            history = json.loads(fh.read())
        if kind == "csv":
            body = LossHistory.from_dict(history).to_csv()
        else:
            body = json.dumps(_run_metadata(job) | history, indent=1)
        response = HttpResponse(body, content_type=spec.content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        as_attachment = spec.attachment and request.GET.get("inline") != "1"
        # Sent by nginx after this check when the proxy is in front (nstsite/sendfile.py).
        response = send_file(request, field, as_attachment=as_attachment, filename=filename,
                             content_type=spec.content_type)
    response["Cache-Control"] = "private, no-cache"
    return response


def preview(request: HttpRequest, pk: int, epoch: int) -> HttpResponse:
    """An epoch's preview JPEG (the live page's thumbnails), with the job's own access check."""
    job = _get_job_for_user(request, pk)
    if epoch not in preview_epochs(job):
        raise Http404("This job has no preview for that epoch (yet).")
    try:
        fh = default_storage.open(preview_file(job, epoch), "rb")
    except FileNotFoundError:
        raise Http404("This preview is gone.") from None
    response = FileResponse(fh, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-cache"
    return response


def _run_metadata(job: StyleJob) -> dict:
    """What the JSON download says about the run besides its losses (as the CLI's JSON does)."""
    return {
        "job": job.pk, "mode": job.mode, "params": job.params, "network": job.network, "device": job.device,
        "seconds": job.run_seconds,
        "styles": [{"position": s.position, "weight": s.weight} for s in job.styles.all()],
    }
