"""Pages for style jobs: submit (also as a remix of a gallery artwork), my jobs, a job's page,
cancel, publish/unpublish, downloads, epoch previews; and the home page.

Short functions and one access helper: `_get_job_for_user` gives 404 for a job the user may not
see (someone else's private job), so a job's existence is not revealed either.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from engine import email_verification
from engine.costs.estimates import RunTimeEstimator, estimate_new_jobs, estimate_queue, quick_size
from engine.home_examples import EXAMPLES
from engine.hooks import NotPublishable, RemixSource, publisher, remix_credit, remix_source
from engine.jobs import batches, cleanup
from engine.jobs import service as jobs
from engine.live import job_page
from engine.live import updates as live
from engine.models import LibraryStyle, Mode, Status, StyleImage, StyleJob, Visibility
from engine.nst import ImageError, LossHistory, ParameterError, images, schema
from engine.nst.classic_params import MAX_STYLES
from engine.nst.history import SERIES_COLOURS
from engine.runners import runner_for
from engine.storage import renditions
from engine.storage.job_files import download_spec, file_for, is_original, preview_epochs, preview_file
from engine.studio import admission, presets, quotas, staged_uploads, style_library
from engine.studio import remix as remixing
from engine.studio.describe import param_rows, picture_title, style_credit
from engine.studio.forms import DEFAULT_MODE, StyleJobForm, control_value
from nstsite.parsing import whole_number
from nstsite.webtier.sendfile import send_file

JOBS_PER_PAGE = 20
RENDITIONS = ("display", "thumb")  # download kinds that engine.storage.renditions makes
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
    return render(request, "home.html", {"recent_jobs": recent, "public_jobs": public, "examples": EXAMPLES})


@login_required
def submit(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        remix = _remixed(request)
        estimator = RunTimeEstimator.from_db()
        limits = quotas.limits_for(request.user)
        initial = remixing.initial(remixing.plan(remix, request.user), quotas.largest_size(limits, remix.job.mode)) \
            if remix else _initial_from_query(request, limits, estimator)
        form = StyleJobForm(initial=initial, user=request.user, limits=limits)
        if request.GET.get("kept"):
            form.offer_kept(request.GET["kept"])  # a photo kept for another try ("Try another style")
        return render(request, "engine/submit.html", _submit_context(form, remix, estimator))
    limits = quotas.limits_for(request.user)
    form = StyleJobForm(request.POST, request.FILES, user=request.user, limits=limits,
                        upload_refusals=getattr(request, "upload_refusals", None))
    refusal = admission.admit(request, limits)  # before any upload is decoded
    if refusal is not None:
        form.refuse(refusal.message)
        response = render(request, "engine/submit.html", _submit_context(form, None), status=refusal.status)
        if refusal.retry_after is not None:
            response["Retry-After"] = str(refusal.retry_after)
        return response
    if form.is_valid():
        try:
            made = jobs.submit(request.user, form.submission, limits=limits)
        except quotas.QuotaExceeded as exc:
            form.add_error(None, str(exc))
        except OSError:  # the disk (full, read-only): jobs.submit has removed what it wrote
            logger.exception("Could not store the files of a new job")
            form.add_error(None, STORAGE_FAILED)
            _keep_uploads(form)
            return render(request, "engine/submit.html", _submit_context(form, form.cleaned_data.get("remix")),
                          status=503)
        else:
            if made[0].batch_id is not None:
                messages.success(request, f"Batch {made[0].batch_id}: {len(made)} jobs.")
                return redirect("engine:batch", pk=made[0].batch_id)
            # No "Job N is queued." message: the job's page says its state itself, live.
            return redirect("engine:detail", pk=made[0].pk)
    _keep_uploads(form)
    return render(request, "engine/submit.html", _submit_context(form, form.cleaned_data.get("remix")))


def _keep_uploads(form: StyleJobForm) -> None:
    """Keep the images that passed their checks, so the page shown again need not ask for them."""
    try:
        form.keep_uploads()
    except OSError:  # a full disk: the page then asks for them again, as before
        logger.warning("Could not keep the uploads of a refused submission", exc_info=True)


def _submit_context(form: StyleJobForm, remix: RemixSource | None, estimator: RunTimeEstimator | None = None) -> dict:
    library = list(LibraryStyle.objects.offered())
    estimator = estimator or RunTimeEstimator.from_db()
    # The classic presets' labels say how long each takes, as the estimate below them would.
    form.fields["preset"].choices = presets.menu(
        lambda mode, values: estimator.estimate(mode, int(values["size"]),
                                                int(values["epochs"]) * int(values["steps_per_epoch"]), values))
    plan = remixing.plan(remix, form.user) if remix is not None else None
    return {"form": form, "presets": presets.as_json(), "remix": remix, "remix_plan": plan,
            "remix_carried": plan.carried if plan else {},
            "library": library,
            "library_data": {str(s.pk): {"painter": s.painter, "title": s.title, "year": s.year,
                                         "thumb": reverse("engine:library_thumbnail", args=[s.pk])}
                             for s in library}}


# --- what the form needs as the user fills it in -----------------------------------------------------


@login_required
def estimate(request: HttpRequest) -> JsonResponse:
    """GET /jobs/estimate/?mode=..&size=..&epochs=..&steps_per_epoch=..&width=..&height=..: the run
    time and peak memory of such a job on the live workers, the queue's wait, and whether it fits.
    A submission of several files (a batch) sends `photos` (how many) and a `frames` per clip (what
    the page reads from the file: its length times its frame rate): the time is then for all its
    jobs, one after the other. Without either, one job of the mode (a video: a clip of ten seconds).
    Cheap by construction (what the form calls as the user changes it): no image is decoded, three
    queries and four Redis round trips, whatever the queue, the batch or the number of workers."""
    mode = request.GET.get("mode")
    if mode not in Mode.values:
        return JsonResponse({"error": "Unknown mode."}, status=400)
    values = {}
    for control in schema.controls(mode, web=True):
        raw = request.GET.get(control.name)
        if raw is None or raw == "":
            continue
        try:
            values[control.name] = control_value(control, raw)  # parsed as the form parses it
        except ValidationError:
            return JsonResponse({"error": f"{control.label}: not a valid value."}, status=400)
    numbers = {}
    for name, (default, maximum) in ESTIMATE_NUMBERS.items():
        raw = request.GET.get(name)
        numbers[name] = default if raw is None or raw == "" else whole_number(raw, maximum=maximum)
        if numbers[name] is None:  # issue 24, finding 8: 1 and 309 zeros was a float overflow, a 500
            return _not_a_number(name)
    runner = runner_for(mode)
    try:
        params = runner.params(values)
        params.validate(max(1, min(MAX_STYLES, numbers["styles"])))
    except (ParameterError, TypeError, ValueError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    width, height = numbers["width"], numbers["height"]
    content_size = (width, height) if width > 0 and height > 0 else None
    clips = [whole_number(raw, maximum=ESTIMATE_NUMBERS["frames"][1]) for raw in request.GET.getlist("frames") if raw]
    if None in clips:
        return _not_a_number("frames")
    planned = _planned_jobs(runner, params, numbers["photos"], clips, quotas.limits_for(request.user))
    result = estimate_new_jobs(planned, content_size, queue_name=jobs.queue_for(request.user),
                               owner_id=request.user.pk)
    return JsonResponse(_estimate_json(result))


# The estimate's numbers besides the controls: (default, largest taken). No image has a side over
# 65535 px (JPEG's own limit; the form refuses anything over 50 megapixels anyway), no clip more
# frames than a day at 60 frames/s, no batch more than a thousand photos: larger is a hand-made
# request, answered 400. `frames` may come once per clip of a batch.
ESTIMATE_NUMBERS = {"styles": (1, 100), "width": (0, 65535), "height": (0, 65535), "frames": (0, 5_184_000),
                    "photos": (0, 1000)}


def _not_a_number(name: str) -> JsonResponse:
    maximum = ESTIMATE_NUMBERS[name][1]
    return JsonResponse({"error": f"{name}: a whole number from 0 to {maximum} is expected."}, status=400)


def _planned_jobs(runner, params, photos: int, clips: list[int], limits) -> list[tuple[str, object, int]]:
    """(mode, params, units) of each job the form's files would make, within what the user may submit:
    `photos` photos, and a clip per entry of `clips` (its frames, within what a clip of the user's may
    have; the runner's guess, ten seconds, until the page has read them)."""
    most = min(limits.max_batch_files, settings.NST_MAX_BATCH_FILES)
    clips = [min(frames, limits.max_clip_frames) for frames in clips[:most] if frames]
    if not clips and photos <= 0:  # nothing chosen yet: one job of the mode, as its runner guesses it
        return [(runner.mode, params, runner.work_units(params).units)]
    planned = []
    if photos > 0:
        photo_runner, photo_params = runner.for_content("image", params)
        planned += [(photo_runner.mode, photo_params, photo_runner.work_units(photo_params).units)] * \
            min(photos, most - len(clips))
    for frames in clips:
        clip_runner, clip_params = runner.for_content("video", params)
        planned.append((clip_runner.mode, clip_params, clip_runner.work_units(clip_params, frames).units))
    return planned


def _estimate_json(result) -> dict:
    return {
        "workers": result.workers,
        "wait_seconds": result.wait_seconds,
        "per_device": [{"device": w.device, "workers": w.workers, "seconds": w.seconds,
                        "peak_bytes": w.peak_bytes, "memory_bytes": w.memory_bytes, "fits": w.fits}
                       for w in result.per_device],
        "seconds": (max(w.seconds for w in result.per_device) if result.per_device else result.fallback.seconds),
        "seconds_min": (min(w.seconds for w in result.per_device) if result.per_device
                        else result.fallback.seconds),
        "peak_bytes": (max(w.peak_bytes for w in result.per_device) if result.per_device
                       else result.fallback.peak_bytes),
        "fits_somewhere": result.fits_somewhere,
        "fits_everywhere": result.fits_everywhere,
        "largest_fitting_size": result.largest_fitting_size,
        "jobs": result.jobs,
    }


@login_required
def staged_upload(request: HttpRequest, token: str) -> HttpResponse:
    """The preview of an image kept for the user from an earlier try (their own only)."""
    try:
        fh = staged_uploads.open_image(request.user, token)
    except FileNotFoundError:
        raise Http404("No such kept image.") from None
    response = FileResponse(fh, content_type="image/png")
    response["Cache-Control"] = PRIVATE  # a user's own photo: kept by no cache (issue 24, finding 11)
    return response


def library_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """A library painting's small picture for the style picker (public-domain works, so public)."""
    style = get_object_or_404(LibraryStyle, pk=pk)
    try:
        data = style_library.thumbnail(style)
    except (FileNotFoundError, ImageError):
        raise Http404("This painting's image is missing.") from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response



def _remixed(request: HttpRequest) -> RemixSource | None:
    """The published work named by ?remix=<pk>; None (with a message) if it is not in the gallery."""
    text = request.GET.get("remix")
    if not text:
        return None
    pk = whole_number(text)
    remix = remix_source(pk) if pk is not None else None
    if remix is None:
        messages.info(request, "That artwork is not in the gallery (any more); here is an empty form.")
    return remix


def _initial_from_query(request: HttpRequest, limits, estimator: RunTimeEstimator) -> dict:
    """/jobs/new/?mode=classic&preset=balanced fills the form in (links on the home page). Without a
    preset the form opens at the largest size the estimate puts within a few seconds in that mode
    (fast mode by default: "Quick try" and "New job" show a full-size result at once)."""
    mode = request.GET.get("mode") if request.GET.get("mode") in Mode.values else DEFAULT_MODE
    preset = request.GET.get("preset", presets.CUSTOM)
    chosen = presets.values(preset, mode)
    if chosen:
        return {"mode": mode, "preset": preset, **chosen}
    low = int(schema.CONTROLS["size"].user[0])
    size = quick_size(mode, low, quotas.largest_size(limits, mode), estimator)
    return {"mode": mode} if size is None else {"mode": mode, "size": size}


@login_required
def my_jobs(request: HttpRequest) -> HttpResponse:
    jobs = batches.with_batch_counts(StyleJob.objects.for_user(request.user).one_per_batch())
    status = request.GET.get("status")
    if status in Status.values:
        jobs = jobs.filter(status=status)
    jobs = jobs.prefetch_related(Prefetch("styles", StyleImage.objects.select_related("library_style")))
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    batches.attach_batch_jobs(page.object_list)
    context = {"page": page, "status": status, "statuses": Status.choices,
               "has_active": any(job.is_active for job in page.object_list),
               "storage": quotas.storage_use(request.user)}
    return render(request, "engine/my_jobs.html", context)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's page: its state partials as this visitor's audience sees them (engine.live.job_page, which
    a live page's socket renders again as the job changes), its inputs and parameters."""
    job = _get_job_for_user(request, pk)
    audience = job_page.audience_for(request.user, job.owner_id)
    estimate = estimate_queue(job) if job.status == Status.QUEUED else None
    styles = list(job.styles.select_related("library_style"))
    context = {
        **job_page.context(job, audience, estimate=estimate),
        "styles": styles, "credit": style_credit(styles),
        "title": picture_title(job.content_name, styles) or f"Job #{job.pk}",
        "params": param_rows(job),
        "epoch_losses": _epoch_losses(job),
        "series_colours": SERIES_COLOURS,
        "remix_credit": remix_credit(job),
    }
    return render(request, "engine/detail.html", context)


def _epoch_losses(job: StyleJob) -> list[list[float]]:
    """The loss at the end of each epoch so far (and the latest step), for the page without
    JavaScript (a mode without losses has none); a succeeded job shows its full loss plot instead."""
    if job.status == Status.SUCCEEDED:
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
def another_style(request: HttpRequest, pk: int) -> HttpResponse:
    """"Try another style on this photo": the owner's photo of this job, kept for them as an upload
    that the form offers again (engine.studio.staged_uploads, as after a refused submission), and the
    form, at its styles. Only for a photo: a clip is not kept."""
    job = get_object_or_404(StyleJob.objects.for_user(request.user), pk=pk)
    if job.content_is_video:
        messages.error(request, "A clip cannot be kept for another try: please choose it again on the form.")
        return redirect("engine:detail", pk=job.pk)
    try:
        with job.content.open("rb") as fh:
            photo = ContentFile(fh.read())
        size = images.probe(photo)
        kept = staged_uploads.stage(request.user, "content", photo, name=job.content_name or "photo.png", size=size)
    except (OSError, ImageError):  # its file is gone, or the disk is full: the form asks for the photo
        logger.warning("Could not keep the photo of job %s for another try", job.pk, exc_info=True)
        messages.error(request, "Your photo could not be kept just now: please choose it again.")
        return redirect("engine:submit")
    query = urlencode({"kept": kept.token, "mode": job.mode})
    return redirect(f"{reverse('engine:submit')}?{query}#style-card")


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Its owner (or staff) deletes an ended job with all its files (engine.jobs.cleanup): the way to
    free space under the storage quota (issue 14). A queued or running job is cancelled first, on
    its page, so this never waits for a worker. The form's confirm box must be ticked."""
    job = _get_job_for_user(request, pk, manage=True)
    if job.is_active:
        messages.error(request, f"Job {job.pk} is {job.get_status_display().lower()}: cancel it first, then delete it.")
    elif request.POST.get("confirm") != "1":
        messages.error(request, "Tick the box to confirm that the job and its files are to be deleted.")
    elif job.pk in cleanup.delete_jobs([job]).deleted:
        messages.success(request, f"Job {job.pk} and its files are deleted.")
        return redirect("engine:my_jobs")
    else:  # a worker still held it: engine.jobs.cleanup leaves it for another try
        messages.error(request, f"Job {job.pk} could not be deleted yet; please try again in a moment.")
    return redirect("engine:detail", pk=job.pk)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's publish/unpublish toggle (POST publish=1 or 0). Staff may unpublish any job
    (moderation); only its owner may publish one."""
    job = _get_job_for_user(request, pk, manage=True)
    if "share_originals" in request.POST:
        return _share_originals(request, job)
    gallery = publisher()  # the gallery's (engine.hooks)
    if request.POST.get("publish") != "1":
        gallery.unpublish(job)
        messages.success(request, f"Job {job.pk} is private: it is not in the gallery.")
    elif job.owner_id != request.user.pk:
        messages.error(request, "Only its owner can publish a job.")
    else:
        try:
            artwork = gallery.publish(job)
        except NotPublishable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Job {job.pk} is in the gallery." if artwork else
                             f"Job {job.pk} will be in the gallery once it has finished.")
    return redirect("engine:detail", pk=job.pk)


@login_required
@require_POST
def notify(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's switch for the e-mail when the job ends (POST notify=1 or 0)."""
    job = get_object_or_404(StyleJob.objects.for_user(request.user), pk=pk)
    wanted = request.POST.get("notify") == "1"
    if wanted and not request.user.email:
        messages.error(request, "Your account has no e-mail address to write to.")
    else:
        job.set_notify_email(wanted)
        ends = "when its batch ends" if job.batch_id else f"when job {job.pk} ends"
        messages.success(request, f"You will get an e-mail at {request.user.email} {ends}."
                         if wanted else f"No e-mail about job {job.pk}.")
        if wanted and not email_verification.is_verified(request.user):
            messages.warning(request, f"{request.user.email} is not confirmed yet: open the link we sent it first "
                                      "(or ask for a new one on the page “Your e-mail address”).")
    return redirect("engine:detail", pk=job.pk)


def _share_originals(request: HttpRequest, job: StyleJob) -> HttpResponse:
    """The owner's switch for showing the job's photo and style images on its gallery page."""
    if job.owner_id != request.user.pk:
        messages.error(request, "Only its owner can choose whether a job's originals are shown.")
        return redirect("engine:detail", pk=job.pk)
    share = request.POST.get("share_originals") == "1"
    job.set_share_originals(share)
    messages.success(request, "Your photo and style images are shown on its gallery page." if share else
                     "Only the result is shown in the gallery; your photo and style images are not.")
    return redirect("engine:detail", pk=job.pk)


# --- downloads ----------------------------------------------------------------------------------

def download(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """A job's files, through this view (never a public /media/ URL): private jobs stay private.
    ?inline=1 shows the file in the browser instead of saving it. Which files exist and what they
    are called: engine.storage.job_files."""
    job = _get_job_for_user(request, pk)
    if is_original(kind) and not job.originals_visible_to(request.user):
        raise Http404("The owner of this job keeps its original images to themselves.")
    field = file_for(job, kind)
    if not field and kind in RENDITIONS and job.status == Status.SUCCEEDED and renditions.ensure(job):
        field = file_for(job, kind)  # a job that succeeded before renditions existed: made once, now
    if not field:
        raise Http404("This job has no such file (yet).")
    spec = download_spec(kind, job)
    filename = f"nst-job-{job.pk}{spec.suffix}"
    if kind in ("csv", "json"):
        with field.open("rb") as fh:
            history = json.loads(fh.read())
        if kind == "csv":
            body = LossHistory.from_dict(history).to_csv()
        else:
            body = json.dumps(_run_metadata(job, request.user) | history, indent=1)
        response = HttpResponse(body, content_type=spec.content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        as_attachment = spec.attachment and request.GET.get("inline") != "1"
        # Sent by nginx after this check when the proxy is in front (nstsite/webtier/sendfile.py).
        response = send_file(request, field, as_attachment=as_attachment, filename=filename,
                             content_type=spec.content_type)
    response["Cache-Control"] = _cache_control(job, kind)
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
    response["Cache-Control"] = _cache_control(job)
    return response


PRIVATE = "private, no-store"


def _cache_control(job: StyleJob, kind: str = "") -> str:
    """A file that only some may see is kept by no cache, not even the browser's disk (issue 14,
    finding 7): a private job's, and the originals of a public one unless its owner shares them
    (issue 24, finding 11); what everyone may see may be kept, revalidated on each use."""
    everyone = job.visibility == Visibility.PUBLIC and (not is_original(kind) or job.share_originals)
    return "private, no-cache" if everyone else PRIVATE


def _run_metadata(job: StyleJob, user) -> dict:
    """What the JSON download says about the run besides its losses (as the CLI's JSON does); the
    device only for those who may see where the job ran (engine.models.may_see_placement)."""
    metadata = {
        "job": job.pk, "mode": job.mode, "params": job.params, "network": job.network, "device": job.device,
        "seconds": job.run_seconds,
        "styles": [{"position": s.position, "weight": s.weight} for s in job.styles.all()],
    }
    if not job.placement_visible_to(user):
        del metadata["device"]
    return metadata
