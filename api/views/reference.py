"""What a program needs besides its jobs: its batches, the style library, what a job would cost,
and the settings a result PNG carries. Each is the pages' own answer in JSON."""

from __future__ import annotations

import json

from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.problems import problem
from api.serializers import BatchSerializer, EstimateSerializer, ResultSettingsSerializer, StyleSerializer, absolute
from api.views.jobs import PROBLEM, Pages, batch_json
from engine import views as pages
from engine.models import Batch, LibraryStyle, Mode, StyleJob
from engine.nst import schema
from engine.studio import settings_from


class BatchList(APIView):
    @extend_schema(operation_id="batches_list", summary="Your batches, newest first",
                   responses={200: inline_serializer("BatchEntry", {
                       "id": serializers.IntegerField(), "url": serializers.URLField(),
                       "created_at": serializers.DateTimeField(), "jobs": serializers.IntegerField()}, many=True),
                       401: PROBLEM})
    def get(self, request):
        paginator = Pages()
        rows = Batch.objects.filter(owner=request.user).order_by("-created_at", "-id")
        page = paginator.paginate_queryset(rows, request, view=self)
        sizes = dict(StyleJob.objects.filter(batch__in=page).order_by().values("batch")
                     .annotate(n=Count("pk")).values_list("batch", "n"))
        return paginator.get_paginated_response(
            [{"id": b.pk, "url": absolute(request, "api:batch", b.pk), "created_at": b.created_at,
              "jobs": sizes.get(b.pk, 0)} for b in page])


class BatchDetail(APIView):
    @extend_schema(operation_id="batches_read", summary="A batch and its jobs",
                   responses={200: BatchSerializer, 401: PROBLEM, 404: PROBLEM})
    def get(self, request, pk: int):
        batch = Batch.objects.visible_to(request.user).filter(pk=pk).first()
        if batch is None:
            return problem(request, 404, "not-found", "No such batch, or not one you may see.")
        return Response(batch_json(batch, request))


class Styles(APIView):
    @extend_schema(operation_id="styles_list", summary="The style library: paintings to use as `style_N_library`",
                   responses={200: StyleSerializer(many=True), 401: PROBLEM})
    def get(self, request):
        return Response(StyleSerializer(LibraryStyle.objects.offered(), many=True, context={"request": request}).data)


ESTIMATE_PARAMETERS = [
    OpenApiParameter("mode", enum=Mode.values, required=True),
    *(OpenApiParameter(c.name, str, description=f"{c.label} (modes: {', '.join(c.modes)})")
      for c in schema.controls(web=True)),
    OpenApiParameter("styles", int, description="How many style images (1-3)."),
    OpenApiParameter("width", int, description="The content photo's width, px."),
    OpenApiParameter("height", int, description="The content photo's height, px."),
    OpenApiParameter("frames", int, description="A clip's frames."),
]


class Estimate(APIView):
    @extend_schema(operation_id="estimate", summary="What such a job would cost: run time, memory, the queue's wait",
                   parameters=ESTIMATE_PARAMETERS, responses={200: EstimateSerializer, 400: PROBLEM, 401: PROBLEM})
    def get(self, request):
        answer = pages.estimate(request._request)  # the form's own estimate, with its checks
        body = json.loads(answer.content)
        if answer.status_code != 200:
            return problem(request, answer.status_code, "invalid-request", body.get("error", "Invalid request."))
        return Response(body)


class ResultSettings(APIView):
    parser_classes = [MultiPartParser]
    reads_only = True  # reads a file; changes nothing

    @extend_schema(operation_id="settings_read", summary="The settings a result PNG carries, as submission fields",
                   request={"multipart/form-data": inline_serializer("SettingsFile",
                                                                     {"file": serializers.FileField()})},
                   responses={200: ResultSettingsSerializer, 400: PROBLEM, 401: PROBLEM})
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            return problem(request, 400, "invalid-request", "Send the PNG as the field `file`.")
        try:
            found = settings_from.from_file(upload)
        except settings_from.NoSettings as exc:
            return problem(request, 400, "invalid-request", str(exc))
        return Response({"settings": found.settings, "fields": found.fields, "missing_styles": found.missing_styles})
