"""Market data: the bar model and its one validation, when each bar becomes known (sessions),
the vendor sources, the Parquet bar store, CSV import, the bundled sample, universes and the
quality check. Nothing here knows about features or models."""
