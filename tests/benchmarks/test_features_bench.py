"""The feature benchmark runs (quick sizes) and writes the numbers the report reads."""

from __future__ import annotations

import json

from benchmarks.features import run

KEYS = ("batch_ms_20y_ours", "batch_ms_20y_talib", "batch_ms_20y_ta",
        "stream_us_per_bar_1_symbol", "stream_us_per_symbol_500_symbols",
        "recompute_us_per_bar", "speedup_vs_recompute")


def test_quick_run_writes_every_number(tmp_path):
    out = tmp_path / "bench" / "features.json"
    results = run(out, quick=True)
    assert json.loads(out.read_text()) == results
    for key in KEYS:
        assert isinstance(results[key], float) and results[key] > 0, key
    assert results["bars"] == 5031
    ratio = results["recompute_us_per_bar"] / results["stream_us_per_bar_1_symbol"]
    assert abs(results["speedup_vs_recompute"] - ratio) <= 0.01 * ratio
