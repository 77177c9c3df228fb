"""/api/v1/jobs/...: submit, list, read, cancel, delete a job; its files; a ticket for its live
events. Access is the one rule of engine.models: a job is looked for among those the caller may see
(StyleJob.objects.visible_to) or, to change it, manage (manageable_by): anyone else's private job
is 404, as on the pages. The wording of each refusal is the page's."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api import requests_doc, submit, tickets
from api.models import WebhookDelivery
from api.problems import problem
from api.serializers import BatchSerializer, JobSerializer, TicketSerializer, absolute
from engine import views as pages
from engine.costs.estimates import estimate_queue, estimate_queued_jobs
from engine.jobs import cleanup
from engine.jobs import service as jobs
from engine.live.updates import QUEUE_UPDATES
from engine.models import Batch, Mode, Status, StyleJob

PROBLEM = OpenApiResponse(description="A problem (RFC 9457, application/problem+json): see /api/problems/.")
NOT_FOUND = "No such job, or not one you may see."


def job_rows():
    """Jobs with what their JSON reads, in a fixed number of queries whatever their number."""
    return (StyleJob.objects.select_related("owner", "webhook")
            .prefetch_related("styles__library_style",
                              Prefetch("webhook__deliveries", queryset=WebhookDelivery.objects.order_by("-id"))))


def job_json(job: StyleJob, request) -> dict:
    estimates = {job.pk: estimate_queue(job)} if job.status == Status.QUEUED else {}
    return JobSerializer(job, context={"request": request, "estimates": estimates}).data


def batch_json(batch: Batch, request) -> dict:
    """A batch with the jobs of it the caller may see."""
    rows = list(job_rows().visible_to(request.user).filter(batch=batch).order_by("pk"))
    return {"id": batch.pk, "url": absolute(request, "api:batch", batch.pk),
            "page": absolute(request, "engine:batch", batch.pk), "created_at": batch.created_at,
            "jobs": JobSerializer(rows, many=True,
                                  context={"request": request, "estimates": queue_estimates(rows)}).data}


def found(rows, pk: int):
    """The row `pk` among `rows` (those the caller may see or manage), else 404 with the API's words."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


def queue_estimates(rows: list[StyleJob]) -> dict:
    """{pk: QueueEstimate} of the queued jobs among `rows`, all at once (three queries, one Redis call)."""
    if not any(job.status == Status.QUEUED for job in rows):
        return {}
    return {pk: estimate for pk, _, estimate in estimate_queued_jobs(QUEUE_UPDATES)}


class Pages(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


CREATED = PolymorphicProxySerializer(component_name="JobOrBatch", serializers=[JobSerializer, BatchSerializer],
                                     resource_type_field_name=None)


class JobList(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="jobs_list", summary="Your jobs, newest first",
        parameters=[OpenApiParameter("status", enum=Status.values), OpenApiParameter("mode", enum=Mode.values),
                    OpenApiParameter("page", int), OpenApiParameter("page_size", int, description="Up to 100.")],
        responses={200: JobSerializer(many=True), 400: PROBLEM, 401: PROBLEM})
    def get(self, request):
        rows = job_rows().filter(owner=request.user)
        for name, allowed in (("status", Status.values), ("mode", Mode.values)):
            value = request.query_params.get(name)
            if value is not None and value not in allowed:
                return problem(request, 400, "invalid-request", f"{name} must be one of {', '.join(allowed)}.")
            if value:
                rows = rows.filter(**{name: value})
        paginator = Pages()
        page = paginator.paginate_queryset(rows.order_by("-created_at", "-id"), request, view=self)
        context = {"request": request, "estimates": queue_estimates(page)}
        return paginator.get_paginated_response(JobSerializer(page, many=True, context=context).data)

    @extend_schema(
        operation_id="jobs_create", summary="Submit a job (several content files: a batch)",
        description=requests_doc.SUBMIT, request={"multipart/form-data": requests_doc.SubmissionSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="A retry within 24 hours with the same key gets the same job (200).")],
        responses={201: CREATED,
                   200: OpenApiResponse(CREATED, description="An idempotent retry: the jobs made before."),
                   400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM})
    def post(self, request):
        made = submit.create(request)
        if isinstance(made, Response):
            return made
        status = 200 if made.replayed else 201
        first = made.jobs[0]
        if first.batch_id is not None and len(made.jobs) > 1:
            return Response(batch_json(first.batch, request), status=status,
                            headers={"Location": absolute(request, "api:batch", first.batch_id)})
        job = job_rows().get(pk=first.pk)
        return Response(job_json(job, request), status=status,
                        headers={"Location": absolute(request, "api:job", job.pk)})


class JobDetail(APIView):
    @extend_schema(operation_id="jobs_read", summary="A job: its state, progress, queue place, parameters, files",
                   responses={200: JobSerializer, 401: PROBLEM, 404: PROBLEM})
    def get(self, request, pk: int):
        job = found(job_rows().visible_to(request.user), pk)
        return Response(job_json(job, request))

    @extend_schema(operation_id="jobs_delete", summary="Delete an ended job with all its files",
                   responses={204: None, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def delete(self, request, pk: int):
        job = found(StyleJob.objects.manageable_by(request.user), pk)
        if job.is_active:
            return problem(request, 409, "conflict",
                           f"Job {job.pk} is {job.get_status_display().lower()}: cancel it first, then delete it.")
        if job.pk not in cleanup.delete_jobs([job]).deleted:  # a worker still held it
            return problem(request, 409, "conflict", f"Job {job.pk} could not be deleted yet; please try again in "
                           "a moment.", headers={"Retry-After": "5"})
        return Response(status=204)


class JobCancel(APIView):
    @extend_schema(operation_id="jobs_cancel", summary="Cancel a queued or running job", request=None,
                   responses={200: JobSerializer, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def post(self, request, pk: int):
        job = found(StyleJob.objects.manageable_by(request.user), pk)
        if not jobs.cancel(job):
            return problem(request, 409, "conflict", f"Job {job.pk} had already "
                           f"{job.get_status_display().lower()}; nothing to cancel.")
        return Response(job_json(job_rows().get(pk=job.pk), request))


class JobFile(APIView):
    @extend_schema(operation_id="jobs_file", summary="One of a job's files (the URLs in its `files`)",
                   responses={(200, "application/octet-stream"): OpenApiResponse(description="The file."),
                              401: PROBLEM, 404: PROBLEM})
    def get(self, request, pk: int, kind: str):
        # The page's own download view: the same access check, names, types and caching.
        return pages.download(request._request, pk, kind)


class JobTicket(APIView):
    reads_only = True  # watching changes nothing: a read token may

    @extend_schema(operation_id="jobs_ticket", summary="A one-use ticket for the job's live events (websocket)",
                   description=tickets.DESCRIPTION, request=None,
                   responses={201: TicketSerializer, 401: PROBLEM, 404: PROBLEM})
    def post(self, request, pk: int):
        if not StyleJob.objects.visible_to(request.user).filter(pk=pk).exists():
            return problem(request, 404, "not-found", NOT_FOUND)
        return Response(tickets.issue(request, pk), status=201)
