"""The on-disk contract every package shares, in the standard library only (see DESIGN.md)."""
