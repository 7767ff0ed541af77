"""Graph-level tools on exported ONNX files: runtime shapes of the products, and the int8 copy.

The int8 copy is onnxruntime's dynamic quantisation (``onnxruntime.quantization``), weight-only
in effect: int8 weights, per-tensor, activations quantised on the fly per call. It is applied
only to the large single-row products, the fusion and head layers (and the last-step
projections of the lean graphs) that read one row per window: at batch 1 those are matrix-vector
products whose time is the weights' trip from memory, which int8 cuts by four. The sequence
products (60 rows per window) stay fp32: they are compute bound and the most sensitive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from contract.artifacts import PROVIDERS, configure_session

PRODUCT_OPS = {"MatMul", "Gemm", "FusedMatMul"}
MIN_INT8_WEIGHTS = 1 << 16  # products with fewer weights than this stay fp32: nothing to gain


def ort_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session with the service's settings and ``threads`` intra-op.

    One thread is the batch-1 default: the graph is many small ops, and on the shared 2-core
    machine a second thread mostly waits for a core. The settings are the contract's
    (``contract.artifacts.configure_session``), so parity and benchmarks run what serving runs.
    """
    import onnxruntime as ort

    options = configure_session(ort.SessionOptions(), threads)
    return ort.InferenceSession(str(path), options, providers=list(PROVIDERS))


def product_shapes(model: onnx.ModelProto, batch: int) -> dict[str, tuple[int, ...]]:
    """The runtime shape of every product's first input and output, from one onnxruntime run.

    Static shape inference cannot follow the exporter's Shape -> Gather -> Reshape chains of
    the dynamic batch axis, so the products' tensors become extra graph outputs and one run at
    ``batch`` (random inputs, graph optimisations off so no node is fused away) reports them.
    """
    import onnxruntime as ort

    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    wanted = {name for node in probed.graph.node if node.op_type in PRODUCT_OPS
              for name in (node.input[0], node.output[0])}
    wanted -= {o.name for o in probed.graph.output} | {t.name for t in probed.graph.initializer}
    probed.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in wanted)
    options = configure_session(ort.SessionOptions(), intra_op_threads=1)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probed.SerializeToString(), options,
                                   providers=list(PROVIDERS))
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.standard_normal([batch, *i.shape[1:]]).astype(np.float32)
             for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    shapes = dict(zip(names, (v.shape for v in session.run(names, feeds)), strict=True))
    shapes.update({t.name: tuple(t.dims) for t in probed.graph.initializer})
    return shapes


def gemms_as_matmuls(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every ``Gemm(A, W, C, transB=1)`` with constant W as ``MatMul(A, W^T) + C``.

    onnxruntime's dynamic quantisation handles MatMul, not Gemm; the exporter writes a Linear
    on 2-D input (fusion, heads) as Gemm. Same arithmetic; onnxruntime fuses it back.
    """
    weights = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        simple = (attributes.get("alpha", 1.0) == 1.0 and attributes.get("beta", 1.0) == 1.0
                  and not attributes.get("transA", 0))
        if node.op_type != "Gemm" or node.input[1] not in weights or not simple:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[node.input[1]])
        if attributes.get("transB", 0):
            weight = weight.T
        name = f"{node.input[1]}_as_matmul"
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight),
                                                               name))
        product = f"{node.output[0]}_product" if len(node.input) > 2 else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product],
                                      name=f"{node.name}_matmul"))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                          name=f"{node.name}_bias"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def single_row_products(model: onnx.ModelProto, min_weights: int = MIN_INT8_WEIGHTS) -> list[str]:
    """MatMuls with a constant weight of at least ``min_weights`` reading one row per window."""
    weights = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    shapes = product_shapes(model, batch=1)
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and weights.get(node.input[1], 0) >= min_weights
            and int(np.prod(shapes[node.input[0]][:-1])) == 1]


def write_int8(source: Path, target: Path) -> list[str]:
    """Write the int8 copy of ``source`` to ``target``; returns the quantised node names."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = gemms_as_matmuls(onnx.load(str(source)))
    chosen = single_row_products(model)
    if not chosen:
        raise ValueError(f"{source}: no single-row product large enough to quantise")
    staged = target.with_suffix(".fp32-matmul.onnx")
    onnx.save(model, str(staged))
    try:
        quantize_dynamic(str(staged), str(target), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_quantize=chosen,
                         per_channel=False)
    finally:
        staged.unlink(missing_ok=True)
    return chosen
