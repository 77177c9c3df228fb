"""/gallery/...: published artworks (namespace "gallery")."""

from django.urls import path

from gallery import page_cache, views

app_name = "gallery"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/like/", views.like, name="like"),
    path("<int:pk>/unlike/", views.unlike, name="unlike"),
    path("<int:pk>/download/", views.download, name="download"),
    path("<int:pk>/title/", views.rename, name="rename"),
    path("<int:pk>/hide/", views.moderate, {"hide": True}, name="hide"),
    path("<int:pk>/show/", views.moderate, {"hide": False}, name="show"),
    path("<int:pk>/thumb/<slug:kind>.jpg", views.thumbnail, name="thumbnail"),
    path("by/<str:username>/", views.user_page, name="user"),
    path("batch/<int:pk>/", views.batch, name="batch"),
    # For the proxy's page cache only (nstsite/webtier/page_cache.py); a 404 for browsers there.
    path("page-generation/", page_cache.generation, name="page_generation"),
]
