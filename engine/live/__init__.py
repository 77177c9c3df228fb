"""Live progress: the events (events), gathering and publishing them (updates, publisher),
the job page's state rendered once per audience (job_page), the websocket consumers."""
