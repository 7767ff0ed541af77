"""The catalogue: every feature column, written once as an expression over the bar's inputs.

Conventions, so each column matches an independent library (the oracle tests prove it):

- moving averages and MACD follow ``ta`` (pandas ``ewm(adjust=False)``: an EMA starts at the
  first value); RSI, ATR, ADX and the DIs follow TA-Lib (Wilder smoothing seeded with the mean
  of the first ``n`` values; TA-Lib's running sums for the DMs and the true range);
- Bollinger bands and every rolling deviation use the population deviation (TA-Lib, ``ta``);
- stochastic %K/%D are TA-Lib's STOCHF (fast %K over 14 bars, %D its 3-bar mean);
- a ratio whose denominator is zero takes a neutral value instead of inf (a flat window gives
  %K = 50, RSI = 50, %B = 0.5); with no volume at all (index bars) VWAP is the mean typical
  price, the volume z-score 0 and money flow 50.

Price-level columns (SMA, EMA, Bollinger bands, VWAP, OBV) follow the stock's price scale; the
``close_to_*``, ``natr`` and ``macd_pct`` columns say the same scale-free, which is what a model
trained on many symbols and decades can compare. Both are emitted; feature selection chooses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from features.indicators.program import Expr, Graph, cov, gate, maximum, ratio

BAR_INPUTS = ("open", "high", "low", "close", "volume", "day_of_week", "month")
CONTEXT_SLOTS = ("spy", "qqq", "vix", "sector")  # market series joined as of each bar
CONTEXT_VALUES = ("ret_1", "mom_20", "level")  # what each context series contributes
CONTEXT_INPUTS = tuple(
    f"{slot}_{value}" for slot in CONTEXT_SLOTS for value in (*CONTEXT_VALUES, "available")
)
INPUTS = BAR_INPUTS + CONTEXT_INPUTS
TIE = 1e-12  # relative difference below which two prices count as equal


class Bars:
    """The inputs of one bar as expressions: ``bars.close``, ``bars.spy_ret_1``, ..."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    def __getattr__(self, name: str) -> Expr:
        return self._graph.input(name)


@dataclass(frozen=True)
class Indicator:
    name: str  # the column name, lower_snake with the parameter last
    group: str  # price, trend, momentum, volatility, volume, calendar or context
    definition: str  # one line, printed by `tradecast features list`
    build: Callable[[Bars], Expr]  # the column as an expression over the bar's inputs
    fill_missing: float | None  # None: NaN is warm-up; a float: context, NaN means "missing"
    scale_free: bool  # False: in the symbol's price or volume units, not comparable across symbols


INDICATORS: dict[str, Indicator] = {}


def register(name: str, group: str, definition: str, fill_missing: float | None = None,
             scale_free: bool = True):
    """Add the decorated expression builder to the catalogue as column ``name``."""
    def decorator(build: Callable[[Bars], Expr]) -> Callable[[Bars], Expr]:
        INDICATORS[name] = Indicator(name, group, definition, build, fill_missing, scale_free)
        return build
    return decorator


# Shared pieces (the graph stores each once, however many columns use it).

def previous_close(b: Bars) -> Expr:
    return b.close.lag(1)


def simple_return(b: Bars, n: int) -> Expr:
    return ratio(b.close, b.close.lag(n), 0.0) - 1.0


def log_return(b: Bars) -> Expr:
    return ratio(b.close, previous_close(b), 1.0).log()


def true_range(b: Bars) -> Expr:
    pc = previous_close(b)
    return maximum(maximum(b.high - b.low, (b.high - pc).abs()), (b.low - pc).abs())


def typical_price(b: Bars) -> Expr:
    return ratio(b.high + b.low + b.close, 3.0, 0.0)  # divided, exactly as TA-Lib and ta do


def directional_index(b: Bars, n: int, sign: int) -> Expr:
    """+DI (``sign`` 1) or -DI (``sign`` -1): Wilder-summed directional movement over true range."""
    up, down = b.high - b.high.lag(1), b.low.lag(1) - b.low
    move = gate(up.clip_low(0.0), up, down) if sign > 0 else gate(down.clip_low(0.0), down, up)
    return ratio(move.wilder_sum(n), true_range(b).wilder_sum(n), 0.0, 100.0)


def macd_line(b: Bars) -> Expr:
    return b.close.ema(12) - b.close.ema(26)


def bollinger(b: Bars, n: int, side: float) -> Expr:
    return b.close.mean(n) + b.close.std(n) * (2.0 * side)


def stoch_k(b: Bars, n: int) -> Expr:
    lowest = b.low.min(n)
    return ratio(b.close - lowest, b.high.max(n) - lowest, 50.0, 100.0)


def vwap(b: Bars, n: int) -> Expr:
    volume = b.volume.sum(n)
    weighted = ratio((typical_price(b) * b.volume).sum(n), volume, 0.0)
    no_volume = 1.0 - volume.sign(0.0)  # 1 only when the window traded nothing
    return weighted + no_volume * typical_price(b).mean(n)


# Price action
register("ret_1", "price", "close / previous close - 1")(lambda b: simple_return(b, 1))
register("log_ret_1", "price", "log(close / previous close)")(log_return)
register("ret_5", "price", "close / close 5 bars ago - 1")(lambda b: simple_return(b, 5))
register("ret_20", "price", "close / close 20 bars ago - 1")(lambda b: simple_return(b, 20))
register("hl_range", "price", "(high - low) / close")(
    lambda b: ratio(b.high - b.low, b.close, 0.0))
register("gap", "price", "open / previous close - 1")(
    lambda b: ratio(b.open, previous_close(b), 0.0) - 1.0)
register("close_pos", "price", "(close - low) / (high - low); 0.5 when high == low")(
    lambda b: ratio(b.close - b.low, b.high - b.low, 0.5))
register("body", "price", "close / open - 1")(lambda b: ratio(b.close, b.open, 0.0) - 1.0)

# Trend
for _n in (5, 10, 20, 50):
    register(f"sma_{_n}", "trend", f"mean close over {_n} bars", scale_free=False)(
        lambda b, n=_n: b.close.mean(n))
for _n in (10, 20, 50):
    register(f"ema_{_n}", "trend", f"EMA of close, span {_n}, from the first close (ta)",
             scale_free=False)(
        lambda b, n=_n: b.close.ema(n))
for _kind, _n in (("sma", 20), ("sma", 50), ("ema", 20)):
    register(f"close_to_{_kind}_{_n}", "trend", f"close / {_kind}_{_n} - 1")(
        lambda b, kind=_kind, n=_n: ratio(
            b.close, b.close.mean(n) if kind == "sma" else b.close.ema(n), 1.0) - 1.0)
register("macd", "trend", "ema_12 - ema_26 of close", scale_free=False)(macd_line)
register("macd_signal", "trend", "EMA (span 9) of macd", scale_free=False)(
    lambda b: macd_line(b).ema(9))
register("macd_hist", "trend", "macd - macd_signal", scale_free=False)(
    lambda b: macd_line(b) - macd_line(b).ema(9))
register("macd_pct", "trend", "macd / close * 100 (scale-free)")(
    lambda b: ratio(macd_line(b), b.close, 0.0, 100.0))
register("plus_di_14", "trend", "+DI: 100 * Wilder sum of +DM / of true range, 14 bars")(
    lambda b: directional_index(b, 14, 1))
register("minus_di_14", "trend", "-DI: 100 * Wilder sum of -DM / of true range, 14 bars")(
    lambda b: directional_index(b, 14, -1))


@register("adx_14", "trend", "Wilder mean (14) of DX = 100 |+DI - -DI| / (+DI + -DI)")
def adx(b: Bars) -> Expr:
    plus, minus = directional_index(b, 14, 1), directional_index(b, 14, -1)
    return ratio((plus - minus).abs(), plus + minus, 0.0, 100.0).wilder(14)


# Momentum
@register("rsi_14", "momentum", "100 * Wilder mean gain / (mean gain + mean loss), 14 bars")
def rsi(b: Bars) -> Expr:
    change = b.close - previous_close(b)
    gain, loss = change.clip_low(0.0).wilder(14), (-change).clip_low(0.0).wilder(14)
    return ratio(gain, gain + loss, 50.0, 100.0)


register("stoch_k_14", "momentum", "fast %K: 100 * (close - low_14) / (high_14 - low_14)")(
    lambda b: stoch_k(b, 14))
register("stoch_d_14", "momentum", "mean of stoch_k_14 over 3 bars")(
    lambda b: stoch_k(b, 14).mean(3))
for _n in (10, 20):
    register(f"roc_{_n}", "momentum", f"100 * (close / close {_n} bars ago - 1)")(
        lambda b, n=_n: simple_return(b, n) * 100.0)
register("willr_14", "momentum", "Williams %R: -100 * (high_14 - close) / (high_14 - low_14)")(
    lambda b: ratio(b.high.max(14) - b.close, b.high.max(14) - b.low.min(14), -50.0, -100.0))

# Volatility
register("atr_14", "volatility", "Wilder mean of the true range, 14 bars",
         scale_free=False)(
    lambda b: true_range(b).wilder(14))
register("natr_14", "volatility", "100 * atr_14 / close (scale-free)")(
    lambda b: ratio(true_range(b).wilder(14), b.close, 0.0, 100.0))
register("bb_upper_20", "volatility", "sma_20 + 2 population deviations of close",
         scale_free=False)(
    lambda b: bollinger(b, 20, 1.0))
register("bb_lower_20", "volatility", "sma_20 - 2 population deviations of close",
         scale_free=False)(
    lambda b: bollinger(b, 20, -1.0))
register("bb_width_20", "volatility", "(bb_upper_20 - bb_lower_20) / sma_20")(
    lambda b: ratio(bollinger(b, 20, 1.0) - bollinger(b, 20, -1.0), b.close.mean(20), 0.0))
register("bb_pctb_20", "volatility", "%B: (close - bb_lower_20) / (bb_upper - bb_lower)")(
    lambda b: ratio(b.close - bollinger(b, 20, -1.0),
                    bollinger(b, 20, 1.0) - bollinger(b, 20, -1.0), 0.5))
for _n in (5, 20):
    register(f"rv_{_n}", "volatility", f"population deviation of log_ret_1 over {_n} bars")(
        lambda b, n=_n: log_return(b).std(n))

# Volume (no volume: VWAP falls back to the mean typical price, ratios to neutral values)
register("obv", "volume", "running sum of volume signed by the close's direction (TA-Lib)",
         scale_free=False)(
    lambda b: (b.volume * (b.close - previous_close(b)).sign(1.0)).cumsum())
register("vwap", "volume", "volume-weighted typical price over 14 bars (ta)",
         scale_free=False)(
    lambda b: vwap(b, 14))
register("close_to_vwap", "volume", "close / vwap - 1")(
    lambda b: ratio(b.close, vwap(b, 14), 1.0) - 1.0)
register("volume_z_20", "volume", "(volume - mean_20) / population deviation_20; 0 if flat")(
    lambda b: ratio(b.volume - b.volume.mean(20), b.volume.std(20), 0.0))
register("volume_ratio_20", "volume", "volume / mean volume over 20 bars; 1 if none")(
    lambda b: ratio(b.volume, b.volume.mean(20), 1.0))


@register("mfi_14", "volume", "money flow index: 100 * rising flow / all flow, 14 bars")
def mfi(b: Bars) -> Expr:
    price = typical_price(b)
    flow, before = price * b.volume, price.lag(1)
    # prices that tie in decimals (typical prices 1e-14 apart) are a tie: no flow either way
    rising = gate(flow, price, before, TIE).sum(14)
    falling = gate(flow, before, price, TIE).sum(14)
    return ratio(rising, rising + falling, 50.0, 100.0)


# Calendar (UTC dates; Monday is 0)
register("day_of_week", "calendar", "0 (Monday) .. 6 (Sunday)")(lambda b: b.day_of_week)
register("month", "calendar", "1 .. 12")(lambda b: b.month)
register("dow_sin", "calendar", "sin(2 pi day_of_week / 7)")(lambda b: b.day_of_week.cycle_sin(7))
register("dow_cos", "calendar", "cos(2 pi day_of_week / 7)")(lambda b: b.day_of_week.cycle_cos(7))
register("month_sin", "calendar", "sin(2 pi (month - 1) / 12)")(
    lambda b: (b.month - 1.0).cycle_sin(12))
register("month_cos", "calendar", "cos(2 pi (month - 1) / 12)")(
    lambda b: (b.month - 1.0).cycle_cos(12))

# Market context, as of the bar's time (NaN and available = 0 where the series has no bar)
for _slot in ("spy", "qqq", "sector"):
    register(f"{_slot}_ret_1", "context", f"{_slot.upper()} last bar's return", 0.0)(
        lambda b, s=_slot: getattr(b, f"{s}_ret_1"))
    register(f"{_slot}_mom_20", "context", f"{_slot.upper()} close / close 20 bars ago - 1",
             0.0)(lambda b, s=_slot: getattr(b, f"{s}_mom_20"))
    register(f"{_slot}_available", "context", f"1 if {_slot.upper()} has a recent bar, else 0",
             0.0)(lambda b, s=_slot: getattr(b, f"{s}_available"))
register("vix_level", "context", "VIX close", 0.0)(lambda b: b.vix_level)
register("vix_ret_1", "context", "VIX last bar's change, relative", 0.0)(lambda b: b.vix_ret_1)
register("vix_available", "context", "1 if VIX has a recent bar, else 0", 0.0)(
    lambda b: b.vix_available)


def _market_covariance(b: Bars) -> Expr:
    return cov(simple_return(b, 1), b.spy_ret_1, 60)


register("beta_spy_60", "context", "cov(ret_1, SPY ret_1) / var(SPY ret_1), 60 bars", 0.0)(
    lambda b: ratio(_market_covariance(b), cov(b.spy_ret_1, b.spy_ret_1, 60), 0.0))
register("corr_spy_60", "context", "correlation of ret_1 with SPY ret_1, 60 bars", 0.0)(
    lambda b: ratio(_market_covariance(b),
                    simple_return(b, 1).std(60) * b.spy_ret_1.std(60), 0.0))
register("rel_strength_spy_20", "context", "ret_20 - spy_mom_20", 0.0)(
    lambda b: simple_return(b, 20) - b.spy_mom_20)


def build_program(names: list[str] | None = None):
    """Compile the columns ``names`` (default: the whole catalogue) into one program."""
    graph = Graph(INPUTS)
    bars = Bars(graph)
    chosen = list(INDICATORS) if names is None else names
    return graph.compile([INDICATORS[name].build(bars) for name in chosen])


def build_context_program():
    """The program run on each market series itself: its ``CONTEXT_VALUES``, in order."""
    graph = Graph(("close",))
    close = graph.input("close")
    momentum = ratio(close, close.lag(20), 0.0) - 1.0
    return graph.compile([ratio(close, close.lag(1), 0.0) - 1.0, momentum, close])
