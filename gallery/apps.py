from django.apps import AppConfig


class GalleryConfig(AppConfig):
    """Published artworks, likes, user pages, remix (see gallery.models)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, pre_delete

        from engine import hooks
        from engine.signals import job_succeeded, originals_shared
        from gallery import page_cache, publishing
        from gallery.likes import forget_likes_of
        from gallery.models import Artwork
        from gallery.publishing import artwork_deleted, publish_if_public

        # What the gallery offers the engine, which does not import it (engine.hooks): the job
        # page's publish toggle and the admin's action, ?remix=<artwork> on the submission page and
        # the credit "Remix of <artwork> by <user>" on a remix's pages.
        hooks.register_publisher(publishing)
        hooks.register_remix_source(publishing.remix_source, publishing.published_work_of)
        job_succeeded.connect(publish_if_public, dispatch_uid="gallery.publish_if_public")
        post_delete.connect(artwork_deleted, sender=Artwork, dispatch_uid="gallery.artwork_deleted")
        pre_delete.connect(forget_likes_of, sender=settings.AUTH_USER_MODEL,
                           dispatch_uid="gallery.forget_likes")
        # An artwork's page shows the owner's photo and style images only when they chose so.
        originals_shared.connect(page_cache.purge_on_signal, dispatch_uid="gallery.purge_on_originals")
