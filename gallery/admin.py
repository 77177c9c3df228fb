"""Admin for artworks: moderation (take out of the gallery) and the counts at a glance."""

from django.contrib import admin, messages

from engine.admin import StaffRunTheQueue
from gallery.models import Artwork
from gallery.publishing import unpublish


@admin.register(Artwork)
class ArtworkAdmin(StaffRunTheQueue, admin.ModelAdmin):
    list_display = ("id", "job", "owner", "mode", "published", "published_at", "like_count", "download_count")
    list_filter = ("published", "mode")
    search_fields = ("=id", "=job__id", "owner__username")
    list_select_related = ("owner", "job")
    readonly_fields = ("job", "owner", "mode", "published", "published_at", "like_count", "download_count",
                       "thumbnails", "thumb_width", "thumb_height")
    actions = ("unpublish_artworks",)

    @admin.action(description="Take the selected artworks out of the gallery (their jobs become private)")
    def unpublish_artworks(self, request, queryset):
        for artwork in queryset.select_related("job"):
            unpublish(artwork.job)
        self.message_user(request, f"{len(queryset)} artwork(s) left the gallery.", messages.SUCCESS)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # artworks come from publishing a job

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # unpublish instead; a job's delete (engine admin) removes its artwork and files
