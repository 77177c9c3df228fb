"""Signals the engine sends, so other apps can act on a job's life without the engine knowing them.

job_succeeded(sender=StyleJob, job=<StyleJob>): sent by StyleJob.finish() once the job's row says
"succeeded" (its result is stored). The gallery publishes jobs submitted as public on it
(gallery.publishing.publish_if_public). Receivers run in the worker; an exception in one is
logged and does not undo the job's success.

job_failed(sender=StyleJob, job=<StyleJob>): sent by StyleJob.fail() once the row says "failed"
(job.error holds the message). engine.notifications e-mails owners who asked for it on both.

originals_shared(sender=StyleJob, job=<StyleJob>, share=<bool>): sent by
StyleJob.set_share_originals() once the row says whether the job's photo and style images are
shown beside its result. The gallery purges its cached pages on it (gallery.page_cache).

job_started, job_cancelled (sender=StyleJob, job=<StyleJob>): sent by StyleJob.start() and
StyleJob.cancel() once the row says so. job_group_done(sender=StyleJob, job=<StyleJob>, group=<n>):
sent by the run's reporter (engine.runners.progress) when a group of work is whole and saved (an
epoch, a video's chunk). The API's webhooks are sent on these (api.webhooks).
"""

from django.dispatch import Signal

job_succeeded = Signal()
job_failed = Signal()
originals_shared = Signal()
job_started = Signal()
job_cancelled = Signal()
job_group_done = Signal()
