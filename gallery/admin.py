"""Admin for artworks: moderation (hide from the gallery, logged; or make the job private) and the
counts at a glance; the moderation log."""

from django.contrib import admin, messages

from engine.admin import StaffRunTheQueue
from gallery import moderation
from gallery.models import Artwork, ModerationAction
from gallery.publishing import unpublish


@admin.register(Artwork)
class ArtworkAdmin(StaffRunTheQueue, admin.ModelAdmin):
    list_display = ("id", "title", "job", "owner", "mode", "published", "hidden", "published_at", "like_count",
                    "download_count")
    list_filter = ("published", "hidden", "mode")
    search_fields = ("=id", "=job__id", "owner__username", "title")
    list_select_related = ("owner", "job")
    readonly_fields = ("job", "owner", "mode", "published", "hidden", "published_at", "like_count", "download_count",
                       "thumbnails", "thumb_width", "thumb_height")
    actions = ("hide_artworks", "show_artworks", "unpublish_artworks")

    @admin.action(description="Hide the selected artworks from the gallery (moderation; their owners cannot "
                              "publish them again)")
    def hide_artworks(self, request, queryset):
        hidden = sum(moderation.hide(artwork, request.user) for artwork in queryset.select_related("job"))
        self.message_user(request, f"{hidden} artwork(s) hidden from the gallery.", messages.SUCCESS)

    @admin.action(description="Show the selected hidden artworks again")
    def show_artworks(self, request, queryset):
        shown = sum(moderation.show(artwork, request.user) for artwork in queryset.select_related("job"))
        self.message_user(request, f"{shown} artwork(s) no longer hidden.", messages.SUCCESS)

    @admin.action(description="Take the selected artworks out of the gallery (their jobs become private)")
    def unpublish_artworks(self, request, queryset):
        for artwork in queryset.select_related("job"):
            unpublish(artwork.job)
        self.message_user(request, f"{len(queryset)} artwork(s) left the gallery.", messages.SUCCESS)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # artworks come from publishing a job

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # unpublish instead; a job's delete (engine admin) removes its artwork and files


@admin.register(ModerationAction)
class ModerationActionAdmin(StaffRunTheQueue, admin.ModelAdmin):
    """The moderation log: read only, written by gallery.moderation."""

    list_display = ("at", "action", "artwork", "moderator")
    list_filter = ("action",)
    list_select_related = ("artwork", "moderator")
    search_fields = ("=artwork__id", "moderator__username")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
