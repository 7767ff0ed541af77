"""Attention outputs of every exported variant, checked on real sample windows, and drawn.

For each variant in the manifest, windows of real bars (sample symbols, several end dates) go
through three paths: the torch model with the exported weights, the exported ONNX graph in
onnxruntime, and, when a server runs, ``POST /predict`` with ``return_attention``. Each path's
attention must have one weight per bar of the window, be non-negative, sum to 1 and equal
torch's to 1e-4. The windows are built as the service builds them: the feature engine over
exactly the bars a request carries, then the model's own columns of the last ``WINDOW`` rows.
A heat map shows, per variant, how the weight spreads over the 60 bars of each window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.load import bars_per_prediction, predict_request, read_sample_bars
from contract.errors import ArtifactError

TOLERANCE = 1e-4  # max |difference| to torch's attention
SUM_TOLERANCE = 1e-5  # max |sum - 1| of a row of weights


@dataclass(frozen=True)
class SampleWindow:
    symbol: str  # sample symbol the bars come from
    bars: pd.DataFrame  # the bars a predict request carries (window plus warm-up)

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.bars['timestamp'].iloc[-1]:%Y-%m-%d}"


def sample_windows(home: str | os.PathLike[str] | None, per_symbol: int) -> list[SampleWindow]:
    """``per_symbol`` request-sized slices of real bars per sample symbol, spread over time."""
    length = bars_per_prediction()
    windows = []
    for symbol, bars in read_sample_bars(home).items():
        ends = np.linspace(length, len(bars), per_symbol + 2, dtype=int)[1:-1]
        windows += [SampleWindow(symbol, bars.iloc[end - length:end].reset_index(drop=True))
                    for end in ends]
    return windows


def model_input(window: SampleWindow, feature_names: list[str]) -> np.ndarray:
    """(WINDOW, F) float32: the model's columns of the last WINDOW rows of the engine's output."""
    from features.engine import compute_features
    from features.windows import WINDOW, model_matrix

    frame = compute_features(window.bars)
    return model_matrix(frame.iloc[-WINDOW:], feature_names)


def check_rows(attention: np.ndarray, reference: np.ndarray | None, window: int,
               variant: str, path: str) -> list[dict]:
    """The four checks on a (windows, bars) array of attention weights from one path."""
    def result(check: str, passed: bool, detail: str) -> dict:
        return {"variant": variant, "path": path, "check": check, "passed": bool(passed),
                "detail": detail}

    shape_ok = attention.ndim == 2 and attention.shape[1] == window
    checks = [result("shape", shape_ok, f"{tuple(attention.shape)}, window {window}")]
    if not shape_ok:
        return checks
    sums = attention.sum(axis=1)
    checks += [
        result("non-negative", attention.min() >= 0, f"min {attention.min():.3g}"),
        result("sums to 1", np.abs(sums - 1).max() <= SUM_TOLERANCE,
               f"max |sum - 1| {np.abs(sums - 1).max():.2e}"),
    ]
    if reference is not None:
        difference = float(np.abs(attention - reference).max())
        checks.append(result("equals torch", difference <= TOLERANCE,
                             f"max |diff| {difference:.2e} (≤ {TOLERANCE:g})"))
    return checks


def run(home: str | os.PathLike[str] | None, out: str | os.PathLike[str],
        server_url: str | None = None, windows_per_symbol: int = 3) -> dict:
    """Check every variant's attention on every path; draw the heat map; return the checks."""
    from contract.home import resolve_home
    from serving.registry import load_models

    out = Path(out)
    windows = sample_windows(home, windows_per_symbol)
    models = load_models(resolve_home(home).exported_dir)
    checks, maps = [], {}
    for variant, artifact in models.items():
        inputs = np.stack([model_input(w, artifact.feature_names) for w in windows])
        reference = torch_attention(artifact, inputs)
        onnx = onnx_attention(artifact, inputs)
        checks += check_rows(reference, None, artifact.window, variant, "torch")
        checks += check_rows(onnx, reference, artifact.window, variant, "onnx")
        if server_url is not None:
            http = http_attention(server_url, variant, windows)
            checks += check_rows(http, reference, artifact.window, variant, "http")
        maps[variant] = onnx
    chart = draw_heatmap(maps, [w.label for w in windows], out / "attention.png")
    return {"windows": [w.label for w in windows], "checks": checks, "charts": [chart.name],
            "paths": sorted({c["path"] for c in checks})}


def onnx_attention(artifact, inputs: np.ndarray) -> np.ndarray:
    from serving.predictor import OnnxPredictor

    return OnnxPredictor(artifact).predict(inputs).attention


def torch_attention(artifact, inputs: np.ndarray) -> np.ndarray:
    """Attention of the torch model holding the weights the variant was exported from."""
    import torch

    model = torch_model(artifact)
    features = torch.from_numpy(inputs)
    position = torch.zeros(len(inputs), artifact.position_dim) if artifact.position_dim else None
    with torch.no_grad():
        return model(features, position)[-1].numpy()


def torch_model(artifact):
    """The checkpoint the variant was exported from or, for a random-init export, its rebuild."""
    import torch

    from training.checkpoint import load_checkpoint
    from training.export import ExportConfig
    from training.models import build_model

    metadata = artifact.metadata
    if metadata.get("checkpoint"):
        model, _ = load_checkpoint(metadata["checkpoint"])
        return model.eval()
    # export_untrained seeds torch and builds the default configuration: the same weights again.
    torch.manual_seed(metadata.get("seed", ExportConfig().seed))
    model = build_model(artifact.variant, len(artifact.feature_names)).eval()
    if model.parameter_count() != metadata["parameters"]:
        raise ArtifactError(
            f"{artifact.directory}: random-init export of {metadata['parameters']} parameters "
            f"cannot be rebuilt in torch (default build has {model.parameter_count()})"
        )
    return model


def http_attention(server_url: str, variant: str, windows: list[SampleWindow]) -> np.ndarray:
    import httpx

    rows = []
    with httpx.Client(base_url=server_url, timeout=30) as client:
        for window in windows:
            body = predict_request(window.symbol, window.bars, variant, return_attention=True)
            response = client.post("/predict", json=body)
            response.raise_for_status()
            rows.append(response.json()["attention"])
    return np.asarray(rows, dtype=np.float64)


def draw_heatmap(maps: dict[str, np.ndarray], labels: list[str], path: Path) -> Path:
    """One panel per variant: a row per sample window, a column per bar (oldest left)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(maps), 1, figsize=(10, 1.2 + 0.32 * len(labels) * len(maps)),
                                squeeze=False)
    for axis, (variant, attention) in zip(axes[:, 0], maps.items(), strict=True):
        image = axis.imshow(attention, aspect="auto", cmap="magma", interpolation="nearest")
        window = attention.shape[1]
        ticks = range(window - 1, -1, -10)  # the latest bar is the last column
        axis.set_xticks(ticks, [str(k - window + 1) for k in ticks])
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_title(f"{variant}: attention over the last {window} bars", fontsize=9)
        figure.colorbar(image, ax=axis, fraction=0.02, pad=0.01)
    axes[-1, 0].set_xlabel("bar (0 = the latest)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

