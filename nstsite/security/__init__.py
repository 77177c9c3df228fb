"""Security: response headers (CSP, Cache-Control), websocket origins, the client's address."""
