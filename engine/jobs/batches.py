"""Batches (engine.models.Batch): their page, their zip, and how lists show them as one entry.

- `batch_page`: every job of the batch the viewer may see (the job rule), with status and progress;
  static/js/batch.js keeps them live over the job sockets (no new protocol: the owner's "my jobs"
  socket carries a status line for each of their jobs, other viewers get one socket per job).
- `batch_zip`: the results of its succeeded jobs the viewer may see, as one zip streamed while it
  is written (zipfile on an unseekable sink; files stored, not compressed: PNG and MP4 are already).
  Nothing of it is held in memory beyond one read buffer, under WSGI and ASGI alike.
- `with_batch_counts`: a job list's annotation for the batch entries ("3 of 5 done"); `attach_batch_jobs`:
  the jobs of the batch entries on a page of a list, in one query (their pictures on the batch's card).
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator

from asgiref.sync import sync_to_async
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from engine.models import Batch, Status, StyleJob
from engine.storage.job_files import result_download, safe_stem, unique_names

READ_BYTES = 1 << 20


def with_batch_counts(jobs):
    """Annotate each job with its batch's size and how many of its jobs have succeeded (0 outside a batch)."""
    def count(condition: Q | None = None) -> Subquery:
        members = StyleJob.objects.filter(batch=OuterRef("batch"))
        if condition is not None:
            members = members.filter(condition)
        return Coalesce(Subquery(members.order_by().values("batch").annotate(n=Count("pk")).values("n")[:1],
                                 output_field=IntegerField()), 0)

    return jobs.annotate(batch_size=count(), batch_done=count(Q(status=Status.SUCCEEDED)),
                         batch_active=count(Q(status__in=(Status.QUEUED, Status.RUNNING))))


def attach_batch_jobs(entries) -> None:
    """Give each batch entry of a list (`batch_jobs`: its batch's jobs, in order) in one query for the
    whole page: "My jobs" shows a batch as one card with its pictures."""
    entries = list(entries)
    ids = {job.batch_id for job in entries if job.batch_id is not None}
    members: dict[int, list[StyleJob]] = {pk: [] for pk in ids}
    for job in StyleJob.objects.filter(batch_id__in=ids).order_by("batch_id", "pk") if ids else ():
        members[job.batch_id].append(job)
    for job in entries:
        job.batch_jobs = members.get(job.batch_id, [])


def _batch_for(request: HttpRequest, pk: int) -> tuple[Batch, list[StyleJob]]:
    """The batch and the jobs of it the viewer may see; 404 when they may see none."""
    batch = get_object_or_404(Batch.objects.select_related("owner"), pk=pk)
    jobs = list(StyleJob.objects.visible_to(request.user).filter(batch=batch).order_by("pk"))
    if not jobs:
        raise Http404("No such batch.")
    return batch, jobs


def batch_page(request: HttpRequest, pk: int) -> HttpResponse:
    batch, jobs = _batch_for(request, pk)
    is_owner = request.user.is_authenticated and request.user.pk == batch.owner_id
    context = {
        "batch": batch, "jobs": jobs, "is_owner": is_owner,
        "done": sum(job.status == Status.SUCCEEDED for job in jobs),
        "active": any(job.is_active for job in jobs),
        "has_results": any(job.status == Status.SUCCEEDED and job.result for job in jobs),
    }
    return render(request, "engine/batch.html", context)


def zip_entries(jobs: Iterable[StyleJob]) -> list[tuple[str, FieldFile]]:
    """(name in the zip, stored file) of each succeeded job's result, named after the file its owner
    uploaded ("holiday.jpg" -> "holiday.png"; made safe, and unique within the zip), or after the
    job ("job-12.png") when the name was not kept (jobs older than that)."""
    done = [job for job in jobs if job.status == Status.SUCCEEDED and job.result]
    names = unique_names([safe_stem(job.content_name, f"job-{job.pk}") for job in done],
                         [result_download(job).suffix for job in done])
    return [(name, job.result) for name, job in zip(names, done, strict=True)]


class _Sink:
    """A write-only file for zipfile that hands over what was written since the last `take()`."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def zip_stream(entries: list[tuple[str, FieldFile]]) -> Iterator[bytes]:
    """The zip of `entries`, piece by piece (at most about READ_BYTES at a time)."""
    sink = _Sink()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, field in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            with field.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(READ_BYTES):
                    target.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


class StreamingBothWays(StreamingHttpResponse):
    """A streaming response from a plain iterator that also streams under ASGI: Django would consume
    a synchronous iterator whole before sending it there; this advances it one piece at a time in a
    worker thread instead."""

    async def __aiter__(self):
        iterator = iter(self.streaming_content)
        step = sync_to_async(next, thread_sensitive=False)
        while (part := await step(iterator, None)) is not None:
            yield part


def batch_zip(request: HttpRequest, pk: int) -> HttpResponse:
    batch, jobs = _batch_for(request, pk)
    entries = zip_entries(jobs)
    if not entries:
        raise Http404("None of this batch's jobs has a result yet.")
    response = StreamingBothWays(zip_stream(entries), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="nst-batch-{batch.pk}.zip"'
    response["Cache-Control"] = "private, no-store"  # a user's own results (issue 24, finding 11)
    return response
