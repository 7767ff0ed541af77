"""Every indicator that TA-Lib or ``ta`` also computes agrees with it on the real sample series.

Agreement means ``|ours - theirs| <= 1e-6 * max(|theirs|, column scale)`` after the warm-up,
where the column scale (the median absolute value) only matters where a column crosses zero
(MACD histogram, returns). Conventions, and the library that shares each:

- Wilder smoothing seeded with the mean of the first n values (RSI, ATR, NATR, ADX, DI): TA-Lib.
  (``ta`` seeds differently and writes 0.0 in the warm-up.)
- EMA started at the first value, pandas ``ewm(adjust=False)`` (EMA, MACD): ``ta``.
  (TA-Lib seeds its EMA with an SMA and aligns MACD's fast EMA to the slow one.)
- Population deviation (Bollinger, realised volatility): both.
- Fast stochastic %K/%D over 14/3 bars: TA-Lib STOCHF and ``ta``'s ``stoch``.
- OBV counting an unchanged close as no flow: TA-Lib (``ta`` adds the volume).
- Money flow counts typical prices that tie in decimals (1e-14 apart after rounding) as
  unchanged, as TA-Lib's result does.
- A flat window (high == low) or no volume: we write neutral values (%K 50, MFI 50) where the
  libraries write 0 or NaN, so those checks skip the close-only VIX series and zero volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta
import talib

from contract.home import SAMPLE_DATA_DIR
from features.engine import FEATURE_SPECS, compute_features
from marketdata.csv_import import read_bars_csv

SERIES = sorted(path.name for path in SAMPLE_DATA_DIR.glob("*.csv.gz"))
RELATIVE = 1e-6
CHECKED: set[str] = set()  # every column assert_agrees compared with a library
# Catalogue columns no oracle library computes as such, by reason; every other column must be
# compared with TA-Lib or ta by the tests above (test_every_library_backed_column_is_checked).
NO_ORACLE = {
    "one- or two-bar arithmetic (test_indicators)": {
        "ret_1", "log_ret_1", "ret_5", "ret_20", "hl_range", "gap", "close_pos", "body"},
    "ratios of checked columns to the close": {
        "close_to_sma_20", "close_to_sma_50", "close_to_ema_20", "macd_pct", "close_to_vwap"},
    "volume statistics of our own": {"volume_z_20", "volume_ratio_20"},
    "calendar encodings (test_engine)": {
        "day_of_week", "month", "dow_sin", "dow_cos", "month_sin", "month_cos"},
    "market context joined as of known-at (test_context)": {
        "spy_ret_1", "spy_mom_20", "spy_available", "qqq_ret_1", "qqq_mom_20", "qqq_available",
        "sector_ret_1", "sector_mom_20", "sector_available", "vix_level", "vix_ret_1",
        "vix_available", "beta_spy_60", "corr_spy_60", "rel_strength_spy_20"},
}


@pytest.fixture(scope="module")
def computed() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each sample series with its features (batch)."""
    result = {}
    for name in SERIES:
        bars = read_bars_csv(SAMPLE_DATA_DIR / name)
        result[name] = (bars, compute_features(bars))
    return result


def assert_agrees(ours: pd.Series, theirs: np.ndarray, name: str, start: int = 0):
    """NaN inside our warm-up, then equal within tolerance from the warm-up (or ``start``, for a
    library that reports later than it could)."""
    CHECKED.add(name)
    warmup = FEATURE_SPECS[name].warmup
    ours, theirs = ours.to_numpy(), np.asarray(theirs, dtype=np.float64)
    assert np.isnan(ours[:warmup]).all(), f"{name}: values inside the warm-up"
    assert np.isfinite(ours[warmup:]).all(), f"{name}: NaN or inf after the warm-up"
    warmup = max(warmup, start)
    ours, theirs = ours[warmup:], theirs[warmup:]
    assert len(ours) > 0 and np.isfinite(ours).all() and np.isfinite(theirs).all(), name
    scale = max(float(np.median(np.abs(theirs))), 1e-12)
    error = np.abs(ours - theirs) / np.maximum(np.abs(theirs), scale)
    worst = int(np.argmax(error))
    assert error[worst] <= RELATIVE, (
        f"{name}: row {warmup + worst} ours {ours[worst]!r} vs {theirs[worst]!r}")


def _has_ranges(bars: pd.DataFrame) -> bool:
    return bool((bars["high"] > bars["low"]).all())


def _has_volume(bars: pd.DataFrame) -> bool:
    return bool((bars["volume"] > 0).all())


@pytest.mark.parametrize("series", SERIES)
def test_close_only_indicators_match_talib(computed, series):
    bars, ours = computed[series]
    close = bars["close"].to_numpy()
    for n in (5, 10, 20, 50):
        assert_agrees(ours[f"sma_{n}"], talib.SMA(close, n), f"sma_{n}")
    assert_agrees(ours["rsi_14"], talib.RSI(close, 14), "rsi_14")
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    assert_agrees(ours["bb_upper_20"], upper, "bb_upper_20")
    assert_agrees(ours["bb_lower_20"], lower, "bb_lower_20")
    for n in (10, 20):
        assert_agrees(ours[f"roc_{n}"], talib.ROC(close, n), f"roc_{n}")
    log_return = np.log(close[1:] / close[:-1])
    for n in (5, 20):
        expected = np.r_[np.nan, talib.STDDEV(log_return, n, 1.0)]
        assert_agrees(ours[f"rv_{n}"], expected, f"rv_{n}")


@pytest.mark.parametrize("series", SERIES)
def test_close_only_indicators_match_ta(computed, series):
    bars, ours = computed[series]
    close = bars["close"]
    for n in (10, 20, 50):
        expected = ta.trend.EMAIndicator(close, n).ema_indicator()
        assert_agrees(ours[f"ema_{n}"], expected, f"ema_{n}")
    macd = ta.trend.MACD(close, 26, 12, 9)
    assert_agrees(ours["macd"], macd.macd(), "macd")
    assert_agrees(ours["macd_signal"], macd.macd_signal(), "macd_signal")
    assert_agrees(ours["macd_hist"], macd.macd_diff(), "macd_hist")
    bands = ta.volatility.BollingerBands(close, 20, 2)
    assert_agrees(ours["bb_upper_20"], bands.bollinger_hband(), "bb_upper_20")
    assert_agrees(ours["bb_width_20"], bands.bollinger_wband() / 100, "bb_width_20")
    assert_agrees(ours["bb_pctb_20"], bands.bollinger_pband(), "bb_pctb_20")


@pytest.mark.parametrize("series", [s for s in SERIES if s != "vix.csv.gz"])
def test_range_indicators_match_talib(computed, series):
    bars, ours = computed[series]
    if not _has_ranges(bars):
        pytest.skip("flat bars: neutral values by our convention")
    high, low, close = (bars[name].to_numpy() for name in ("high", "low", "close"))
    assert_agrees(ours["atr_14"], talib.ATR(high, low, close, 14), "atr_14")
    assert_agrees(ours["natr_14"], talib.NATR(high, low, close, 14), "natr_14")
    assert_agrees(ours["plus_di_14"], talib.PLUS_DI(high, low, close, 14), "plus_di_14")
    assert_agrees(ours["minus_di_14"], talib.MINUS_DI(high, low, close, 14), "minus_di_14")
    assert_agrees(ours["adx_14"], talib.ADX(high, low, close, 14), "adx_14")
    fast_k, fast_d = talib.STOCHF(high, low, close, 14, 3, 0)
    # TA-Lib reports %K only from where %D starts
    start = FEATURE_SPECS["stoch_d_14"].warmup
    assert_agrees(ours["stoch_k_14"], fast_k, "stoch_k_14", start=start)
    assert_agrees(ours["stoch_d_14"], fast_d, "stoch_d_14")
    assert_agrees(ours["willr_14"], talib.WILLR(high, low, close, 14), "willr_14")


@pytest.mark.parametrize("series", [s for s in SERIES if s != "vix.csv.gz"])
def test_stochastic_matches_ta(computed, series):
    bars, ours = computed[series]
    if not _has_ranges(bars):
        pytest.skip("flat bars: neutral values by our convention")
    stochastic = ta.momentum.StochasticOscillator(bars["high"], bars["low"], bars["close"], 14, 3)
    assert_agrees(ours["stoch_k_14"], stochastic.stoch(), "stoch_k_14")
    assert_agrees(ours["stoch_d_14"], stochastic.stoch_signal(), "stoch_d_14")


@pytest.mark.parametrize("series", SERIES)
def test_volume_indicators_match_talib_and_ta(computed, series):
    bars, ours = computed[series]
    high, low, close, volume = (bars[n].to_numpy() for n in ("high", "low", "close", "volume"))
    assert_agrees(ours["obv"], talib.OBV(close, volume), "obv")
    if not _has_volume(bars):
        pytest.skip("no volume: MFI and VWAP take neutral values by our convention")
    assert_agrees(ours["mfi_14"], talib.MFI(high, low, close, volume, 14), "mfi_14")
    vwap = ta.volume.VolumeWeightedAveragePrice(bars["high"], bars["low"], bars["close"],
                                                bars["volume"], 14)
    assert_agrees(ours["vwap"], vwap.volume_weighted_average_price(), "vwap")


def test_every_library_backed_column_is_checked(computed):
    """Each catalogue column is compared with a library by the checks above, or NO_ORACLE says
    why none computes it: a new indicator needs one or the other."""
    CHECKED.clear()
    for check in (test_close_only_indicators_match_talib, test_close_only_indicators_match_ta,
                  test_range_indicators_match_talib, test_stochastic_matches_ta,
                  test_volume_indicators_match_talib_and_ta):
        check(computed, "aapl.csv.gz")  # ranges and volume: no check skips on it
    exempt = set().union(*NO_ORACLE.values())
    assert exempt <= set(FEATURE_SPECS), sorted(exempt - set(FEATURE_SPECS))
    assert not CHECKED & exempt, sorted(CHECKED & exempt)
    assert sorted(set(FEATURE_SPECS) - exempt - CHECKED) == []
