"""The API's endpoints: jobs (jobs.py), batches, styles, estimates and a result's settings
(reference.py), the websocket ticket (api.tickets), the schema and its docs page (api.docs)."""
