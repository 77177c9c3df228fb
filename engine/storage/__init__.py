"""A job's files (job_files: names, downloads) and what the disk keeps (retention)."""
