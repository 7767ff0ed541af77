"""Market context joined as of each bar: only context bars at or before it, missing said so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from contract.home import SAMPLE_DATA_DIR
from features.context import DEFAULT_MAX_AGE
from features.engine import StreamingEngine, compute_features
from marketdata.csv_import import read_bars_csv


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    files = {"AAPL": "aapl.csv.gz", "SPY": "spy.csv.gz", "VIX": "vix.csv.gz",
             "QQQ": "nasdaq.csv.gz"}
    return {name: read_bars_csv(SAMPLE_DATA_DIR / file) for name, file in files.items()}


@pytest.fixture(scope="module")
def joined(bars) -> pd.DataFrame:
    context = {"SPY": bars["SPY"], "VIX": bars["VIX"], "QQQ": bars["QQQ"]}
    return compute_features(bars["AAPL"], context)


def test_context_values_equal_an_independent_as_of_join(bars, joined):
    """pandas merge_asof (backward, with the same tolerance) is the oracle."""
    spy = bars["SPY"][["timestamp", "close"]].copy()
    spy["ret"] = spy["close"].pct_change()
    spy["mom"] = spy["close"] / spy["close"].shift(20) - 1
    expected = pd.merge_asof(bars["AAPL"][["timestamp"]], spy, on="timestamp",
                             direction="backward", tolerance=DEFAULT_MAX_AGE)
    np.testing.assert_allclose(joined["spy_ret_1"], expected["ret"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(joined["spy_mom_20"], expected["mom"], rtol=1e-12,
                               equal_nan=True)
    np.testing.assert_array_equal(joined["spy_available"], expected["close"].notna())


def test_missing_context_is_nan_and_flagged(bars, joined):
    before_spy = joined["timestamp"] < bars["SPY"]["timestamp"].iloc[0]
    before_vix = joined["timestamp"] < bars["VIX"]["timestamp"].iloc[0]
    assert before_spy.sum() > 800 and before_vix.sum() > 2000
    assert (joined.loc[before_spy, "spy_available"] == 0).all()
    assert joined.loc[before_spy, ["spy_ret_1", "spy_mom_20", "beta_spy_60"]].isna().all().all()
    assert (joined.loc[before_vix, "vix_available"] == 0).all()
    assert joined.loc[before_vix, "vix_level"].isna().all()
    assert (joined.loc[~before_vix, "vix_available"] == 1).all()
    assert (joined["sector_available"] == 0).all() and joined["sector_ret_1"].isna().all()


def test_stale_context_stops_counting(bars, joined):
    """SPY's sample ends 2017-12-29 while AAPL goes on: after max_age it reads as missing."""
    last_spy = bars["SPY"]["timestamp"].iloc[-1]
    age = joined["timestamp"] - last_spy
    assert (joined.loc[age > DEFAULT_MAX_AGE, "spy_available"] == 0).all()
    assert (joined.loc[(age >= pd.Timedelta(0)) & (age <= DEFAULT_MAX_AGE),
                       "spy_available"] == 1).all()


def test_beta_and_correlation_equal_pandas_rolling(bars, joined):
    spy = bars["SPY"].set_index("timestamp")["close"].pct_change()
    mine = bars["AAPL"].set_index("timestamp")["close"].pct_change()
    pair = pd.DataFrame({"mine": mine, "spy": spy.reindex(mine.index)})
    inside = pair.dropna().index[-500:]
    rolling = pair.rolling(60)
    beta = (rolling.cov()["spy"].unstack()["mine"] / rolling.var()["spy"]).loc[inside]
    corr = rolling.corr()["spy"].unstack()["mine"].loc[inside]
    frame = joined.set_index("timestamp").loc[inside]
    np.testing.assert_allclose(frame["beta_spy_60"], beta, rtol=1e-6)
    np.testing.assert_allclose(frame["corr_spy_60"], corr, rtol=1e-6)


def test_context_after_a_bar_is_never_used(bars, joined):
    """Changing or removing context bars after t changes no feature at or before t."""
    cut = joined["timestamp"].iloc[2500]
    spy = bars["SPY"].copy()
    later = spy["timestamp"] > cut
    spy.loc[later, ["open", "high", "low", "close"]] *= 1.7
    changed = compute_features(bars["AAPL"], {"SPY": spy, "VIX": bars["VIX"],
                                              "QQQ": bars["QQQ"]})
    upto = joined["timestamp"] <= cut
    pd.testing.assert_frame_equal(changed[upto], joined[upto])
    assert not changed[~upto]["spy_ret_1"].equals(joined[~upto]["spy_ret_1"])
    truncated = compute_features(bars["AAPL"], {"SPY": bars["SPY"][~later],
                                                "VIX": bars["VIX"], "QQQ": bars["QQQ"]})
    pd.testing.assert_frame_equal(truncated[upto], joined[upto])


def test_streaming_ignores_context_newer_than_the_bar(bars):
    engine = StreamingEngine()
    aapl, spy = bars["AAPL"], bars["SPY"]
    day = spy["timestamp"].iloc[100]
    engine.update_context("SPY", day, spy["close"].iloc[100])
    bar = aapl[aapl["timestamp"] < day].iloc[-1].to_dict()
    row = dict(zip(engine.feature_names, engine.update("AAPL", bar), strict=True))
    assert row["spy_available"] == 0 and np.isnan(row["spy_ret_1"])


def test_unknown_context_name_is_refused(bars):
    with pytest.raises(BarDataError, match="unknown market context 'DAX'"):
        compute_features(bars["AAPL"], {"DAX": bars["SPY"]})


def test_sector_context_follows_each_symbols_etf(bars):
    """Two symbols, two sector series: each symbol sees its own ETF."""
    engine = StreamingEngine()
    engine.add_symbol("AAPL", sector="XLK")
    engine.add_symbol("GOOG", sector="XLC")
    spy, qqq, aapl = bars["SPY"], bars["QQQ"], bars["AAPL"]
    stamp = spy["timestamp"].iloc[30]
    for i in range(31):
        engine.update_context("XLK", spy["timestamp"].iloc[i], spy["close"].iloc[i])
    qqq_rows = qqq[qqq["timestamp"] <= stamp].iloc[-31:]
    for t, close in zip(qqq_rows["timestamp"], qqq_rows["close"], strict=True):
        engine.update_context("XLC", t, close)
    bar = aapl[aapl["timestamp"] == stamp].iloc[0].to_dict()
    names = engine.feature_names
    first = dict(zip(names, engine.update("AAPL", bar), strict=True))
    second = dict(zip(names, engine.update("GOOG", bar), strict=True))
    assert first["sector_ret_1"] == pytest.approx(spy["close"].iloc[30] / spy["close"].iloc[29]
                                                  - 1, rel=1e-12)
    assert second["sector_ret_1"] == pytest.approx(
        qqq_rows["close"].iloc[-1] / qqq_rows["close"].iloc[-2] - 1, rel=1e-12)
