"""The walk-forward predictions file: its name, its columns and the baselines it holds.

Training's walk-forward writes ``contract.runs.PREDICTIONS_FILE`` in the run folder; the
backtest and the walk-forward report read it (docs/interfaces.md, "Walk-forward predictions").
"""

from __future__ import annotations

FOLD_PREFIX = "fold_"  # fold_<validation year>/ inside the run folder
FOLD_PREDICTIONS = "predictions.parquet"  # a fold's raw predictions with the realised labels
FOLD_METRICS = "metrics.json"  # a fold's record: spans, fit, metrics, calibration
FOLD_CALIBRATION = "calibration.parquet"  # the model on training windows, labelled
KEY_COLUMNS = ("timestamp", "symbol", "fold", "model")
PER_HORIZON = ("p_down", "p_flat", "p_up", "ret_pred", "vol_pred")  # then _<horizon>
LABEL_KINDS = ("ret", "dir", "vol")  # realised labels in the fold files: ret_<h>, dir_<h>, ...
BASELINES = ("always_up", "momentum", "linear", "lightgbm")  # every other model is a variant
