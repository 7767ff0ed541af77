"""`tradecast signals`: batch predictions and positions without HTTP, same models and rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from contract.home import Home
from marketdata.store import BarStore
from policy.signal_rule import combine_horizons, positions_from_predictions
from serving.batch import MARKET_CONTEXT, context_bars
from serving.config import ServingConfig
from serving.forecasting import Forecaster
from serving.registry import ModelRegistry
from tradecast.cli import app

START = "2017-09-01"


def test_signals_command_writes_the_same_predictions_and_positions(
    serving_home: Home, tmp_path
) -> None:
    out = tmp_path / "signals.parquet"
    result = CliRunner().invoke(app, ["signals", "--symbols", "AAPL,GOOG", "--start", START,
                                      "--out", str(out), "--home", str(serving_home.root)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert set(frame["symbol"]) == {"AAPL", "GOOG"}
    assert (frame["timestamp"] >= pd.Timestamp(START, tz="UTC")).all()
    assert frame["position"].between(-1, 1).all()

    forecaster = Forecaster(ModelRegistry(serving_home.exported_dir), ServingConfig())
    rule = forecaster.config.signal_rule
    aapl = frame[frame["symbol"] == "AAPL"]
    horizons = (1, 4, 24)
    probabilities = np.stack([aapl[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].to_numpy()
                              for h in horizons], axis=1)
    returns = aapl[[f"ret_pred_{h}" for h in horizons]].to_numpy()
    volatility = aapl[[f"vol_pred_{h}" for h in horizons]].to_numpy()
    expected = positions_from_predictions(
        *combine_horizons(probabilities, returns, volatility, horizons, rule), config=rule
    )
    np.testing.assert_array_equal(aapl["position"].to_numpy(), expected)

    store = BarStore(serving_home.bars_dir)
    context = context_bars(store, MARKET_CONTEXT)
    last = forecaster.forecast_bars("AAPL", store.read("AAPL", "1d"), context)
    np.testing.assert_allclose(probabilities[-1], last.prediction.probabilities[0], rtol=1e-5)


def test_signals_command_needs_symbols_or_a_universe(serving_home: Home, tmp_path) -> None:
    result = CliRunner().invoke(app, ["signals", "--out", str(tmp_path / "x.parquet"),
                                      "--home", str(serving_home.root)])
    assert result.exit_code != 0 and "--symbols" in result.output
