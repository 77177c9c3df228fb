"""Jobs and their queue: the job service (service), RQ plumbing (queue), the crash-safe
worker (worker, worker_info, stopping), batches, deleting jobs with their files (cleanup)."""
