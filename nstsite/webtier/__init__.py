"""The web tier: nginx in front (proxy), gunicorn and daphne behind it (webserver),
downloads handed to nginx after Django's check (sendfile)."""
