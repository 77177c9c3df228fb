from django.apps import AppConfig


class GalleryConfig(AppConfig):
    """Published artworks, likes, user pages, remix (built in a later issue)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gallery"
    verbose_name = "Gallery"
