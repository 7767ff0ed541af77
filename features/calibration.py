"""Post-hoc calibration of a model's outputs, fitted on its training span, applied everywhere.

Three small maps, one per output and horizon, each fitted only where it helps:

- direction: temperature scaling, ``p' = softmax(log p / T)`` (T > 1 softens, T < 1 sharpens);
- expected return: a scale through the origin, ``r' = b r`` with ``b >= 0`` (a model that
  overstates its moves is shrunk towards no call);
- volatility: a line, ``v' = a + b v``, kept positive.

`fit_calibration` sees the model's predictions on training windows only. It fits each map on
the older 70 % of them (in time) and keeps it only if it lowers the error (Brier score, squared
error) on the newer 30 %; a kept map is then refitted on all of them. Training (walk-forward
folds, the exported checkpoint) and serving (the one place where model outputs become forecasts)
apply the result with `apply_calibration`; it travels as JSON (`to_dict` / `from_dict`), in the
checkpoint's ``summary.json`` and the export's ``metadata.json`` under ``"calibration"``.
numpy only: serving imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FIT_SHARE = 0.7  # the older share of the training windows each map is fitted on
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 81))  # the grid searched
MIN_VOLATILITY = 1e-6  # a calibrated volatility never reaches zero
PROBABILITY_FLOOR = 1e-12  # log(0) guard


@dataclass(frozen=True)
class Calibration:
    temperature: tuple[float, ...]  # (H,) direction temperature per horizon (1: unchanged)
    return_scale: tuple[float, ...]  # (H,) expected-return scale per horizon (1: unchanged)
    volatility_intercept: tuple[float, ...]  # (H,) volatility intercept (0: unchanged)
    volatility_slope: tuple[float, ...]  # (H,) volatility slope (1: unchanged)

    @classmethod
    def identity(cls, horizons: int) -> Calibration:
        return cls((1.0,) * horizons, (1.0,) * horizons, (0.0,) * horizons, (1.0,) * horizons)

    @property
    def is_identity(self) -> bool:
        return self == Calibration.identity(len(self.temperature))

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "temperature": list(self.temperature),
            "return_scale": list(self.return_scale),
            "volatility_intercept": list(self.volatility_intercept),
            "volatility_slope": list(self.volatility_slope),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Calibration:
        return cls(*(tuple(float(v) for v in values[name]) for name in CALIBRATION_FIELDS))


CALIBRATION_FIELDS = ("temperature", "return_scale", "volatility_intercept", "volatility_slope")


def brier_score(probabilities: np.ndarray, classes: np.ndarray) -> float:
    """Mean over rows of the squared distance between (n, 3) probabilities and the one-hot class.

    Rows whose class is unknown (negative) are left out; NaN when none is known.
    """
    known = classes >= 0
    if not known.any():
        return float("nan")
    one_hot = np.eye(probabilities.shape[-1])[classes[known]]
    return float(np.mean(np.sum((probabilities[known] - one_hot) ** 2, axis=-1)))


def scale_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) over the last axis."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, PROBABILITY_FLOOR, None)) / temperature
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def apply_calibration(
    calibration: Calibration | None,
    probabilities: np.ndarray,  # (n, H, 3)
    returns: np.ndarray,  # (n, H)
    volatility: np.ndarray,  # (n, H)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calibrated (probabilities, returns, volatility); unchanged without a calibration."""
    if calibration is None or calibration.is_identity:
        return probabilities, returns, volatility
    probabilities = np.stack(
        [scale_temperature(probabilities[:, h], t) for h, t in enumerate(calibration.temperature)],
        axis=1,
    ).astype(probabilities.dtype)
    returns = (returns * np.asarray(calibration.return_scale)).astype(returns.dtype)
    volatility = np.maximum(
        np.asarray(calibration.volatility_intercept)
        + np.asarray(calibration.volatility_slope) * volatility,
        MIN_VOLATILITY,
    ).astype(volatility.dtype)
    return probabilities, returns, volatility


def fit_calibration(
    probabilities: np.ndarray,  # (n, H, 3) predictions on training windows, in time order
    returns: np.ndarray,  # (n, H)
    volatility: np.ndarray,  # (n, H)
    *,
    realised_direction: np.ndarray,  # (n, H) int classes, negative where unknown
    realised_returns: np.ndarray,  # (n, H), NaN where unknown
    realised_volatility: np.ndarray,  # (n, H), NaN where unknown
) -> Calibration:
    """Each map fitted on the older rows and kept only if it helps on the newer ones."""
    n, horizons = returns.shape
    older = np.arange(n) < int(FIT_SHARE * n)
    newer = ~older
    temperature, scale, intercept, slope = [], [], [], []
    for h in range(horizons):
        p, classes = probabilities[:, h], realised_direction[:, h]
        fitted = _fit_temperature(p[older], classes[older])
        helps = brier_score(scale_temperature(p[newer], fitted), classes[newer]) < brier_score(
            p[newer], classes[newer]
        )
        temperature.append(_fit_temperature(p, classes) if helps else 1.0)

        r, realised = returns[:, h], realised_returns[:, h]
        fitted = _fit_scale(r[older], realised[older])
        helps = _squared_error(fitted * r[newer], realised[newer]) < _squared_error(
            r[newer], realised[newer]
        )
        scale.append(_fit_scale(r, realised) if helps else 1.0)

        v, realised = volatility[:, h], realised_volatility[:, h]
        a, b = _fit_line(v[older], realised[older])
        calibrated = np.maximum(a + b * v[newer], MIN_VOLATILITY)
        helps = b > 0 and _squared_error(calibrated, realised[newer]) < _squared_error(
            v[newer], realised[newer]
        )  # a falling line would rank calm above stormy: never kept
        a, b = _fit_line(v, realised) if helps else (0.0, 1.0)
        intercept.append(a)
        slope.append(b)
    return Calibration(tuple(temperature), tuple(scale), tuple(intercept), tuple(slope))


def _fit_temperature(probabilities: np.ndarray, classes: np.ndarray) -> float:
    """The grid temperature of least log loss (1 when no class is known)."""
    known = classes >= 0
    if not known.any():
        return 1.0
    logits = np.log(np.clip(probabilities[known], PROBABILITY_FLOOR, None))  # (n, 3)
    scaled = logits[None] / TEMPERATURES[:, None, None]  # (T, n, 3)
    log_norm = np.log(np.exp(scaled - scaled.max(-1, keepdims=True)).sum(-1)) + scaled.max(-1)
    picked = np.take_along_axis(scaled, classes[known][None, :, None], axis=-1)[..., 0]
    losses = np.mean(log_norm - picked, axis=1)  # (T,)
    return float(TEMPERATURES[int(np.argmin(losses))])


def _fit_scale(predicted: np.ndarray, realised: np.ndarray) -> float:
    """Least-squares b >= 0 in realised ~ b * predicted (1 when predictions are all zero)."""
    known = np.isfinite(predicted) & np.isfinite(realised)
    power = float(np.sum(predicted[known] ** 2))
    if power <= 0:
        return 1.0
    return max(float(np.sum(predicted[known] * realised[known])) / power, 0.0)


def _fit_line(predicted: np.ndarray, realised: np.ndarray) -> tuple[float, float]:
    """Least-squares (a, b) in realised ~ a + b * predicted (identity for a constant guess)."""
    known = np.isfinite(predicted) & np.isfinite(realised)
    if known.sum() < 3 or np.ptp(predicted[known]) <= 0:
        return 0.0, 1.0
    b, a = np.polyfit(predicted[known], realised[known], 1)
    return float(a), float(b)


def _squared_error(predicted: np.ndarray, realised: np.ndarray) -> float:
    known = np.isfinite(predicted) & np.isfinite(realised)
    return float(np.mean((predicted[known] - realised[known]) ** 2)) if known.any() else np.inf
