"""Remixing a published work (the gallery's "Remix: use this look", /jobs/new/?remix=<pk>): what of
it a new job starts from, style slot by style slot.

- A painting of the style library always carries over: it is public domain, and the work's page
  credits it anyway. It comes back as the slot's library choice (the form's `style_<n>_library`),
  so the new job credits the painting as any job that picked it does. A painting retired since is
  no longer offered: its copy in the work is carried instead (still credited, StyleImage.library_style).
- An image the author uploaded carries over only where its author shared the work's originals
  (engine.models.may_see_originals: copies in the new job would be the remixer's to download). It
  is offered as a ticked box in its slot (`style_<n>_remix`): untick it, or fill the slot, to drop it.
- Otherwise the slot is private: the page says so before anything is chosen, and asks for a style.

The new job records the job it remixed (StyleJob.remix_of: "Remix of <work> by <user>",
engine.hooks.remix_credit). The settings carry over too (`initial`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.hooks import RemixSource
from engine.models import StyleImage
from engine.nst import schema
from engine.studio import presets


@dataclass
class RemixPlan:
    work: RemixSource
    library: dict[int, StyleImage] = field(default_factory=dict)   # slot -> a painting still offered
    carried: dict[int, StyleImage] = field(default_factory=dict)   # slot -> the work's image, copied
    private: list[StyleImage] = field(default_factory=list)        # the author's own images, not shared

    @property
    def styles(self) -> list[StyleImage]:
        """What carries over, in slot order."""
        return [self.library.get(slot) or self.carried[slot] for slot in sorted({*self.library, *self.carried})]

    @property
    def needs_style(self) -> bool:
        """Nothing carries over: the user must choose a style of their own."""
        return not (self.library or self.carried)


def plan(work: RemixSource, user) -> RemixPlan:
    """What of `work`'s styles a remix by `user` may start from (two queries)."""
    job = work.job
    shared = job.share_originals or (user is not None and job.originals_visible_to(user))
    out = RemixPlan(work)
    for style in job.styles.select_related("library_style"):
        painting = style.library_style
        if painting is not None and not painting.retired:
            out.library[style.position] = style
        elif painting is not None or shared:
            out.carried[style.position] = style
        else:
            out.private.append(style)
    return out


def initial(remix: RemixPlan, largest_size: int) -> dict:
    """The form as the remixed job was submitted, minus the photo: its mode and settings, its
    paintings in their slots, its shared images ticked in theirs, every style's weight. The size
    within what the remixer may ask for (`largest_size` in that mode: their quota may be smaller
    than the author's)."""
    job = remix.work.job
    params = job.engine_params()
    values = {"mode": job.mode, "preset": presets.CUSTOM, "remix": remix.work.pk}
    values.update({c.name: getattr(params, c.name) for c in schema.controls(job.mode, web=True)})
    values["size"] = max(int(schema.CONTROLS["size"].user[0]), min(int(params.size), largest_size))
    for slot, style in remix.library.items():
        values[f"style_{slot}_library"] = style.library_style_id
    for slot in remix.carried:
        values[f"style_{slot}_remix"] = True
    for style in (*remix.library.values(), *remix.carried.values(), *remix.private):
        values[f"style_{style.position}_weight"] = style.weight
    return values
