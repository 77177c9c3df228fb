"""/jobs/...: the style job pages (namespace "engine")."""

from django.urls import path

from engine import views
from engine.jobs import batches

app_name = "engine"

urlpatterns = [
    path("", views.my_jobs, name="my_jobs"),
    path("new/", views.submit, name="submit"),
    path("estimate/", views.estimate, name="estimate"),
    path("kept/<str:token>.png", views.staged_upload, name="staged_upload"),
    path("library/<int:pk>/thumb.jpg", views.library_thumbnail, name="library_thumbnail"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/another-style/", views.another_style, name="another_style"),
    path("<int:pk>/notify/", views.notify, name="notify"),
    path("<int:pk>/download/<slug:kind>/", views.download, name="download"),
    path("<int:pk>/preview/<int:epoch>.jpg", views.preview, name="preview"),
    path("batch/<int:pk>/", batches.batch_page, name="batch"),
    path("batch/<int:pk>/zip/", batches.batch_zip, name="batch_zip"),
]
