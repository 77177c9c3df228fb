"""What other apps lend the engine, registered from their AppConfig.ready() the way they connect to
engine.signals: the engine calls them without importing those apps (they are built on it, not it
on them; tests/test_architecture.py checks that no module of engine/ imports gallery).

- A remix source: `register_remix_source(lookup, of_job)`, lookup(pk) -> a published work (something
  with `pk`, `job` and `owner`) whose settings and style images a new job may start from (the
  submission page's ?remix=<pk> and the form's hidden `remix` field), or None; of_job(job_id) -> the
  published work of that job, or None (`remix_credit`: "Remix of <work> by <user>" on a remix's
  pages, only while the work is published). The gallery's published artworks are one (gallery.apps).
- A publisher: `register_publisher(publisher)`, with publish(job) (the work it is now in, or None
  when it will be once the job succeeds; NotPublishable for a job that has no result to show) and
  unpublish(job), for the job page's toggle and the admin's action. The gallery keeps a job's
  visibility and its artwork in step (gallery.publishing). Without one, publishing only sets the
  job's visibility.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.models import StyleJob, Visibility


class NotPublishable(Exception):
    """The job cannot be published; the message is for its owner."""


class RemixSource(Protocol):
    pk: int
    job: StyleJob
    owner: Any


class Publisher(Protocol):
    def publish(self, job: StyleJob) -> Any: ...

    def unpublish(self, job: StyleJob) -> None: ...


class _VisibilityOnly:
    """No app publishes jobs: their visibility is all there is."""

    def publish(self, job: StyleJob) -> None:
        job.set_visibility(Visibility.PUBLIC)

    def unpublish(self, job: StyleJob) -> None:
        job.set_visibility(Visibility.PRIVATE)


Lookup = Callable[[int], RemixSource | None]
_remix_sources: list[tuple[Lookup, Lookup]] = []
_publisher: list[Publisher] = [_VisibilityOnly()]


def register_remix_source(lookup: Lookup, of_job: Lookup) -> None:
    if (lookup, of_job) not in _remix_sources:
        _remix_sources.append((lookup, of_job))


def remix_source(pk: int) -> RemixSource | None:
    """The published work `pk` a new job may remix, or None."""
    for lookup, _ in _remix_sources:
        found = lookup(pk)
        if found is not None:
            return found
    return None


def remix_credit(job: StyleJob) -> RemixSource | None:
    """The published work `job` was remixed from (StyleJob.remix_of), for "Remix of <work> by <user>";
    None when it is not a remix, or that work is gone or no longer published."""
    if job.remix_of_id is None:
        return None
    for _, of_job in _remix_sources:
        found = of_job(job.remix_of_id)
        if found is not None:
            return found
    return None


def register_publisher(publisher: Publisher) -> None:
    _publisher[0] = publisher


def publisher() -> Publisher:
    return _publisher[0]
