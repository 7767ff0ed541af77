"""Several variants' answers combined into one (the "combined" variant of the API): weighted
averages of what they predict.

Weights come from each variant's validation metrics in its metadata (its 1-bar balanced
accuracy's edge over a coin flip; equal weights when a variant has no metrics, e.g. freshly
initialised weights, or none has an edge) or are given by the caller; they sum to one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from contract.errors import ArtifactError
from serving.artifacts import ModelArtifact
from serving.predictor import Prediction

METRIC = "balanced_accuracy_1"  # validation metric in metadata.json the weights come from
CHANCE = 0.5  # its value for a coin flip


def validation_weights(models: Mapping[str, ModelArtifact]) -> dict[str, float]:
    """Each variant's validation edge over chance, normalised; equal weights without one."""
    edges = {}
    for variant, artifact in models.items():
        value = (artifact.metadata.get("metrics") or {}).get(METRIC)
        if not isinstance(value, (int, float)) or not np.isfinite(value):
            edges = {}
            break
        edges[variant] = max(float(value) - CHANCE, 0.0)
    if not edges or sum(edges.values()) <= 0:
        return normalise({variant: 1.0 for variant in models})
    return normalise(edges)


def normalise(weights: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(weights.values()))
    if not weights or total <= 0 or any(w < 0 for w in weights.values()):
        raise ArtifactError(f"ensemble weights must be non-negative with a positive sum: {weights}")
    return {variant: float(w) / total for variant, w in weights.items()}


def combine(predictions: Mapping[str, Prediction], weights: Mapping[str, float]) -> Prediction:
    """The weighted average of every output (probabilities stay a distribution)."""
    weights = normalise({variant: weights[variant] for variant in predictions})

    def average(field: str) -> np.ndarray:
        return sum(weights[v] * getattr(p, field) for v, p in predictions.items())

    return Prediction(
        average("probabilities"), average("returns"), average("volatility"), average("attention")
    )
