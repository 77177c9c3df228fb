"""Request limits: body sizes and the upload handler (limits), rate limits,
large bodies for signed-in users only (anonymous_uploads)."""
