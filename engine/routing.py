"""Websocket routes (nstsite.asgi mounts them behind the origin check and the session auth)."""

from django.urls import path

from engine.live import consumers

websocket_urlpatterns = [
    path("ws/jobs/", consumers.MyJobsConsumer.as_asgi()),
    path("ws/jobs/<int:pk>/", consumers.JobConsumer.as_asgi()),
]
