"""The studio: one submission path. A request becomes a Submission (engine.studio.submission),
validated by the form (engine.studio.forms) after one admission step (engine.studio.admission); the job
service (engine.jobs.service.submit) turns it into rows. The REST API takes the same path."""
