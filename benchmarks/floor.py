"""The compute floor: what a variant's matrix products alone would cost on these cores.

Two numbers, both measured or counted in the run that uses them:

- ``matmul_flops(graph, batch)``: the multiply-add FLOPs (2 per multiply-add) of every
  ``MatMul``, ``Gemm`` and ``FusedMatMul`` node of an exported ONNX graph at a given batch,
  counted from the graph itself (shapes from one run at that batch): what onnxruntime
  actually multiplies, lean or not.
- ``matmul_rate(threads)``: the GFLOP/s onnxruntime's own MatMul kernel reaches on
  ``threads`` intra-op threads, from a MatMul-only graph of the shapes the variants use
  (60-row sequence products, 128 to 2048 wide).

``floor_ms = flops / rate``: a latency divided by it says how far the graph is from pure matmul
time. Element-wise ops, softmaxes and norms are not in the floor, so 1.0x is out of reach.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.onnx_tools import PRODUCT_OPS, product_shapes

# (rows, inner, outer) of the probe's products: window-long sequence products at the widths the
# variants use; the rate is their total FLOPs over their total time. No single-row products:
# those are bound by memory, and a floor must be what the cores can compute.
PROBE_SHAPES = ((60, 256, 1024), (60, 1024, 256), (60, 512, 2048), (60, 2048, 512),
                (60, 128, 512))


def matmul_flops(graph: str | Path | onnx.ModelProto, batch: int = 1) -> int:
    """FLOPs (2 per multiply-add) of the graph's MatMul/Gemm nodes at ``batch``."""
    model = graph if isinstance(graph, onnx.ModelProto) else onnx.load(str(graph))
    shapes = product_shapes(model, batch)
    total = 0
    for node in model.graph.node:
        if node.op_type not in PRODUCT_OPS:
            continue
        first, out = shapes[node.input[0]], shapes[node.output[0]]
        transposed = any(a.name == "transA" and a.i for a in node.attribute)
        inner = first[-2] if transposed else first[-1]
        total += 2 * int(np.prod(out)) * inner
    return total


def probe_graph(shapes: tuple[tuple[int, int, int], ...] = PROBE_SHAPES) -> onnx.ModelProto:
    """A graph of independent MatMuls with constant weights, one input per shape."""
    rng = np.random.default_rng(0)
    inputs, outputs, nodes, weights = [], [], [], []
    for index, (rows, inner, outer) in enumerate(shapes):
        inputs.append(helper.make_tensor_value_info(f"x{index}", TensorProto.FLOAT,
                                                    [rows, inner]))
        outputs.append(helper.make_tensor_value_info(f"y{index}", TensorProto.FLOAT,
                                                     [rows, outer]))
        weight = (rng.standard_normal((inner, outer)) / np.sqrt(inner)).astype(np.float32)
        weights.append(numpy_helper.from_array(weight, f"w{index}"))
        nodes.append(helper.make_node("MatMul", [f"x{index}", f"w{index}"], [f"y{index}"]))
    graph = helper.make_graph(nodes, "matmul_probe", inputs, outputs, weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def probe_flops(shapes: tuple[tuple[int, int, int], ...] = PROBE_SHAPES) -> int:
    return sum(2 * rows * inner * outer for rows, inner, outer in shapes)


def matmul_rate(threads: int, seconds: float = 1.5,
                shapes: tuple[tuple[int, int, int], ...] = PROBE_SHAPES) -> float:
    """onnxruntime MatMul GFLOP/s on ``threads`` intra-op threads.

    From the 10th-percentile call time, not the median: on a shared machine most calls lose
    some time to other processes, and the floor is what the cores can do, not what was left.
    """
    from training.export import ort_session

    rng = np.random.default_rng(1)
    feeds = {f"x{i}": rng.standard_normal((r, k)).astype(np.float32)
             for i, (r, k, _) in enumerate(shapes)}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "probe.onnx"
        onnx.save(probe_graph(shapes), str(path))
        session = ort_session(path, threads=threads)
    for _ in range(5):
        session.run(None, feeds)
    timings, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(timings) < 10:
        started = time.perf_counter()
        session.run(None, feeds)
        timings.append(time.perf_counter() - started)
    return probe_flops(shapes) / float(np.percentile(timings, 10)) / 1e9
