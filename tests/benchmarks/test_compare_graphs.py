"""`python -m benchmarks.compare_graphs`: two homes' exports of each variant, timed in turn."""

from __future__ import annotations

from benchmarks.compare_graphs import compare
from contract.home import Home


def test_every_shared_variant_is_timed_at_both_batches(exported_home: Home) -> None:
    rows = compare(exported_home.root, exported_home.root, threads=1, seconds=0.05)
    variants = {"simplex", "hybrid", "ensemble", "full"}  # full needs its position input too
    assert {(row["variant"], row["batch"]) for row in rows} == {
        (variant, batch) for variant in variants for batch in (1, 32)}
    for row in rows:
        assert row["runs"] >= 5 and row["before_p50_ms"] > 0 and row["after_p50_ms"] > 0
        assert abs(row["after_vs_before"] - row["after_p50_ms"] / row["before_p50_ms"]) < 0.01
