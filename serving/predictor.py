"""Feature windows in, the model's answer out, through onnxruntime.

onnxruntime's recurrent ops turn NaN and inf into finite, plausible outputs (torch would return
NaN), so every window is checked for finite values before it reaches the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.model import FEATURES_INPUT, OUTPUT_NAMES, POSITION_INPUT
from features.calibration import apply_calibration
from serving.artifacts import ModelArtifact
from serving.errors import InputError


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (B, horizons, 3): P(down), P(flat), P(up) per horizon
    returns: np.ndarray  # (B, horizons): expected simple return per horizon
    volatility: np.ndarray  # (B, horizons): expected realised volatility per horizon
    attention: np.ndarray  # (B, window): how much each bar of the window weighed

    def row(self, index: int) -> Prediction:
        """One sample of the batch, keeping the batch axis."""
        part = slice(index, index + 1)
        return Prediction(
            self.probabilities[part], self.returns[part], self.volatility[part],
            self.attention[part],
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def require_finite(values: np.ndarray, field: str) -> None:
    """Refuse NaN/inf, naming the first offending position."""
    bad = ~np.isfinite(values)
    if bad.any():
        where = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
        raise InputError(field, f"non-finite value at [{where}] (NaN or inf)")


def check_position_width(given: int, width: int) -> None:
    """Refuse a position input whose width is not the model's."""
    if given != width:
        raise InputError("position", f"{given} values, the model takes {width}")


class OnnxPredictor:
    """Runs one exported variant; safe to share between threads."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self.output_names = list(OUTPUT_NAMES)

    def predict(self, features: np.ndarray, position: np.ndarray | None = None) -> Prediction:
        """features (B, window, F) float32 [+ position (B, P)] -> probabilities, returns, ..."""
        artifact = self.artifact
        expected = (artifact.window, len(artifact.feature_names))
        if features.ndim != 3 or features.shape[1:] != expected:
            raise InputError("features", f"shape {features.shape}, expected (batch, *{expected})")
        features = np.ascontiguousarray(features, dtype=np.float32)
        require_finite(features, "features")
        feeds = {FEATURES_INPUT: features}
        if artifact.position_dim:
            feeds[POSITION_INPUT] = self._position(position, len(features))
        logits, returns, volatility, attention = artifact.session.run(self.output_names, feeds)
        # Where model outputs become forecasts: training's calibration, applied as it fitted it.
        calibrated = apply_calibration(artifact.calibration, softmax(logits), returns, volatility)
        return Prediction(*calibrated, attention)

    def _position(self, position: np.ndarray | None, batch: int) -> np.ndarray:
        width = self.artifact.position_dim
        if position is None:  # flat: no open position
            return np.zeros((batch, width), dtype=np.float32)
        position = np.atleast_2d(np.asarray(position, dtype=np.float32))
        check_position_width(position.shape[-1], width)
        if len(position) == 1 and batch > 1:
            position = np.repeat(position, batch, axis=0)
        require_finite(position, "position")
        return position
