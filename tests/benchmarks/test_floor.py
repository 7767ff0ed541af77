"""The compute floor: matmul FLOPs counted from the ONNX graph, and the probe's MatMul rate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.floor import matmul_flops, matmul_rate, probe_flops, probe_graph
from training.export import ExportConfig, example_inputs, torch_threads, write_onnx
from training.models import TINY_OVERRIDES, VARIANTS, build_model


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_graph_count_equals_torchs_own_count(variant: str, tmp_path: Path) -> None:
    """Every product torch runs is a MatMul/Gemm of the graph, with the same shapes."""
    torch.manual_seed(0)
    model = build_model(variant, 6, **TINY_OVERRIDES[variant]).eval()
    path = tmp_path / "model.onnx"
    with torch_threads(1):
        write_onnx(model, path, ExportConfig())
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(*example_inputs(model, 3, seed=0))
    assert matmul_flops(path, batch=3) == counter.get_total_flops() > 0
    assert matmul_flops(path, batch=1) * 3 == matmul_flops(path, batch=3)


def test_probe_counts_its_own_products() -> None:
    shapes = ((1, 3, 4), (1, 6, 7))  # one row each: matmul_flops feeds batch 1
    assert probe_flops(shapes) == 2 * (3 * 4 + 6 * 7)
    assert matmul_flops(probe_graph(shapes), batch=1) == probe_flops(shapes)
    rate = matmul_rate(1, seconds=0.05)
    assert 0.1 < rate < 1e5  # GFLOP/s of one core: positive and physically possible
