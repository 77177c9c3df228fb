"""What a user asks for in one submission, validated: the value between the form (or any other
front: the REST API) and the job service.

    form = StyleJobForm(data, files, user=user, limits=limits)   # after admission.admit(request, limits)
    if form.is_valid():
        jobs.submit(user, form.submission)                       # the rows, queued on commit

A Submission holds only checked things: content files already probed (a clip) or decoded and
re-encoded (a photo, engine.studio.content_files), style images likewise, params the engine validated.
It is frozen: nothing downstream changes what was checked. `engine.jobs.service.submit` makes a job per
content file (more than one: a batch), each run by the runner its content calls for
(engine.runners: a photo in a video-mode submission runs in fast mode), with its work units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.runners import Runner, runner_for
from engine.studio.content_files import Content

if TYPE_CHECKING:
    from django.core.files import File

    from engine.models import LibraryStyle, StyleImage, StyleJob


@dataclass(frozen=True)
class StyleChoice:
    """One style slot of the submission: exactly one of an uploaded image (checked and re-encoded),
    a painting of the style library, or a remixed job's style image (copied into the new job, which
    must not lose its input when the other job is deleted)."""

    slot: int                             # 1..3, as on the form
    weight: float
    image: File | None = None
    library: LibraryStyle | None = None
    source: StyleImage | None = None


class PlannedJob(NamedTuple):
    """One job a submission makes: its content file, the runner its content calls for, its params."""

    content: Content
    runner: Runner
    params: Any


@dataclass(frozen=True)
class Submission:
    mode: str
    params: Any                           # the mode's params dataclass, validated (engine.nst)
    contents: tuple[Content, ...]         # a job each
    styles: tuple[StyleChoice, ...]
    publish: bool = False                 # public once it succeeds (the gallery shows it)
    share_originals: bool = False
    notify_email: bool = False            # an e-mail when it ends (if the owner has an address)
    embed_settings: bool = True           # its result file carries its settings (engine.storage.result_settings)
    staged_tokens: tuple[str, ...] = ()   # uploads kept from an earlier try that it uses: deleted once stored
    remix_of: StyleJob | None = None      # the job whose published work this one remixes (engine.studio.remix)

    @property
    def is_batch(self) -> bool:
        return len(self.contents) > 1

    def jobs(self) -> Iterator[PlannedJob]:
        """The jobs to make, in the order given."""
        for content in self.contents:
            yield PlannedJob(content, *runner_for(self.mode).for_content(content.kind, self.params))
