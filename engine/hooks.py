"""What other apps lend the engine, registered from their AppConfig.ready() the way they connect to
engine.signals: the engine calls them without importing those apps (they are built on it, not it
on them; tests/test_architecture.py checks that no module of engine/ imports gallery).

- A remix source: `register_remix_source(lookup)`, lookup(pk) -> a published work (something with
  `pk`, `job` and `owner`) whose settings and style images a new job may start from (the
  submission page's ?remix=<pk> and the form's hidden `remix` field), or None. The gallery's
  published artworks are one (gallery.apps).
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


_remix_sources: list[Callable[[int], RemixSource | None]] = []
_publisher: list[Publisher] = [_VisibilityOnly()]


def register_remix_source(lookup: Callable[[int], RemixSource | None]) -> None:
    if lookup not in _remix_sources:
        _remix_sources.append(lookup)


def remix_source(pk: int) -> RemixSource | None:
    """The published work `pk` a new job may remix, or None."""
    for lookup in _remix_sources:
        found = lookup(pk)
        if found is not None:
            return found
    return None


def register_publisher(publisher: Publisher) -> None:
    _publisher[0] = publisher


def publisher() -> Publisher:
    return _publisher[0]
