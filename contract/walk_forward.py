"""The walk-forward predictions' columns and the baselines they hold.

Training's walk-forward writes ``oos_predictions.parquet`` and one ``fold_<year>/`` folder per
fold in the run folder (their names: `contract.runs`); the backtest and the walk-forward report
read them (docs/interfaces.md, "Walk-forward predictions").
"""

from __future__ import annotations

KEY_COLUMNS = ("timestamp", "symbol", "fold", "model")
PER_HORIZON = ("p_down", "p_flat", "p_up", "ret_pred", "vol_pred")  # then _<horizon>
LABEL_KINDS = ("ret", "dir", "vol")  # realised labels in the fold files: ret_<h>, dir_<h>, ...
BASELINES = ("always_up", "momentum", "linear", "lightgbm")  # every other model is a variant
