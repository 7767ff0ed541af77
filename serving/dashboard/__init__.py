"""The dashboard backend, mounted on the service under /ui (see app.py)."""
