"""Baselines that every model is compared with, on the same folds and the same features.

- `always_up`: calls "up" at every horizon; predicts the training span's mean return and
  volatility.
- `momentum`: calls the sign of the past return over the same horizon; predicts that sign times
  the training span's mean absolute return, and the past realised volatility (persistence).
- `linear`: ridge regression for returns and volatility and multinomial logistic regression for
  direction, on the window's last row of the selected, normalised features.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from features.labels import DOWN, FLAT, UP
from training.dataset import Samples
from training.metrics import Predictions

BASELINES = ("always_up", "momentum", "linear")


def predict_baselines(train: Samples, validation: Samples) -> dict[str, Predictions]:
    """Fit every baseline on `train` and predict `validation`."""
    return {
        "always_up": always_up(train, validation),
        "momentum": momentum(train, validation),
        "linear": linear(train, validation),
    }


def always_up(train: Samples, validation: Samples) -> Predictions:
    n, horizons = validation.returns.shape
    probabilities = np.zeros((n, horizons, 3), dtype=np.float32)
    probabilities[:, :, UP] = 1.0
    return Predictions(
        probabilities,
        np.broadcast_to(np.nanmean(train.returns, axis=0), (n, horizons)).copy(),
        np.broadcast_to(np.nanmean(train.volatility, axis=0), (n, horizons)).copy(),
    )


def momentum(train: Samples, validation: Samples) -> Predictions:
    n, horizons = validation.returns.shape
    sign = np.sign(np.nan_to_num(validation.past_returns))  # unknown past: no call (flat)
    probabilities = np.zeros((n, horizons, 3), dtype=np.float32)
    probabilities[:, :, UP] = sign > 0
    probabilities[:, :, DOWN] = sign < 0
    probabilities[:, :, FLAT] = sign == 0
    typical_move = np.nanmean(np.abs(train.returns), axis=0)  # (H,)
    mean_volatility = np.broadcast_to(np.nanmean(train.volatility, axis=0), (n, horizons))
    past_volatility = np.where(
        np.isfinite(validation.past_volatility), validation.past_volatility, mean_volatility
    )
    return Predictions(probabilities, sign * typical_move, past_volatility)


def linear(train: Samples, validation: Samples) -> Predictions:
    n, horizons = validation.returns.shape
    probabilities = np.zeros((n, horizons, 3), dtype=np.float32)
    returns = np.zeros((n, horizons))
    volatility = np.zeros((n, horizons))
    for h in range(horizons):
        returns[:, h] = _ridge(train.features, train.returns[:, h], validation.features)
        volatility[:, h] = _ridge(train.features, train.volatility[:, h], validation.features)
        probabilities[:, h] = _logistic(train.features, train.direction[:, h], validation.features)
    return Predictions(probabilities, returns, volatility)


def _ridge(features: np.ndarray, target: np.ndarray, new_features: np.ndarray) -> np.ndarray:
    known = np.isfinite(target)
    return Ridge(alpha=1.0).fit(features[known], target[known]).predict(new_features)


def _logistic(features: np.ndarray, classes: np.ndarray, new_features: np.ndarray) -> np.ndarray:
    known = classes >= 0
    model = LogisticRegression(C=0.1, max_iter=300).fit(features[known], classes[known])
    probabilities = np.zeros((len(new_features), 3), dtype=np.float32)
    probabilities[:, model.classes_] = model.predict_proba(new_features)
    return probabilities
