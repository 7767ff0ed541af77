"""Past one machine: the service as a Bento, and Ray adapters over the local code paths."""
