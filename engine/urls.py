"""/jobs/...: the style job pages (namespace "engine")."""

from django.urls import path

from . import batches, views

app_name = "engine"

urlpatterns = [
    path("", views.my_jobs, name="my_jobs"),
    path("new/", views.submit, name="submit"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/download/<slug:kind>/", views.download, name="download"),
    path("<int:pk>/preview/<int:epoch>.jpg", views.preview, name="preview"),
    path("batch/<int:pk>/", batches.batch_page, name="batch"),
    path("batch/<int:pk>/zip/", batches.batch_zip, name="batch_zip"),
]
