"""Baselines that every model is compared with, on the same folds and the same features.

- `always_up`: calls "up" at every horizon; predicts the training span's mean return and
  volatility.
- `momentum`: calls the sign of the past return over the same horizon; predicts that sign times
  the training span's mean absolute return, and the past realised volatility (persistence).
- `linear`: ridge regression for returns and volatility and multinomial logistic regression for
  direction, on the window's last row of the selected, normalised features.
- `lightgbm`: gradient-boosted trees (LightGBM) on the same last-row features: a regressor per
  horizon for returns and for volatility, a three-class classifier per horizon for direction.
  A fixed number of trees and no early stopping: stopping on the validation year would let it
  see validation labels.

Every baseline is fitted on the fold's training windows alone; `validation` lends only its
inputs (features, past returns) to the prediction.
"""

from __future__ import annotations

import lightgbm
import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from features.labels import DOWN, FLAT, UP
from training.dataset import Samples
from training.metrics import Predictions

LIGHTGBM_PARAMETERS = {
    "n_estimators": 200,  # fixed: there is no validation set to stop on
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 100,  # daily returns are noisy: large leaves
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "verbose": -1,
}


def predict_baselines(
    train: Samples, validation: Samples, *, seed: int = 0, threads: int = 1
) -> dict[str, Predictions]:
    """Fit every baseline on `train` and predict `validation`."""
    return {
        "always_up": always_up(train, validation),
        "momentum": momentum(train, validation),
        "linear": linear(train, validation),
        "lightgbm": gradient_boosting(train, validation, seed=seed, threads=threads),
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


def gradient_boosting(
    train: Samples, validation: Samples, *, seed: int = 0, threads: int = 1
) -> Predictions:
    n, horizons = validation.returns.shape
    parameters = {**LIGHTGBM_PARAMETERS, "random_state": seed, "n_jobs": max(threads, 1)}
    probabilities = np.zeros((n, horizons, 3), dtype=np.float32)
    returns = np.zeros((n, horizons))
    volatility = np.zeros((n, horizons))
    for h in range(horizons):
        for target, out in ((train.returns, returns), (train.volatility, volatility)):
            known = np.isfinite(target[:, h])
            model = lightgbm.LGBMRegressor(**parameters)
            model.fit(train.features[known], target[known, h])
            out[:, h] = model.predict(validation.features)
        known = train.direction[:, h] >= 0
        classifier = lightgbm.LGBMClassifier(**parameters)
        classifier.fit(train.features[known], train.direction[known, h])
        probabilities[:, h][:, classifier.classes_] = classifier.predict_proba(validation.features)
    return Predictions(probabilities, returns, volatility)
