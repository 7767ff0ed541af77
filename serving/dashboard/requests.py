"""What the browser may ask a job to do, validated field by field, and the CLI command for it.

Each request model turns into the `tradecast` command a person would type (`JobCommand`), so a
job from the page and one from the shell do the same thing. Strings that reach the command line
are matched against narrow patterns: nothing the browser sends becomes an option of its own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.home import CONFIG_DIR
from contract.model import VARIANTS
from serving.dashboard.jobs import JobCommand

Variant = Literal[VARIANTS]  # one of the four model variants (a tuple subscript: the same Literal)
SYMBOL = r"[A-Za-z0-9^][A-Za-z0-9.\-]{0,19}(/[A-Za-z0-9]{1,10})?"  # AAPL, ^VIX, BRK.B, BTC/USDT
SYMBOLS = rf"^{SYMBOL}(,{SYMBOL}){{0,49}}$"
DAY = r"^\d{4}-\d{2}-\d{2}$"
TIMEFRAME = Literal["1min", "5min", "15min", "1h", "1d"]
OVERRIDE = r"^[A-Za-z_][A-Za-z0-9_.]{0,60}=[A-Za-z0-9_.+\-]{1,40}$"  # name=value, no spaces
Override = Annotated[str, Field(pattern=OVERRIDE)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FetchJob(Strict):
    source: Literal["yfinance", "alpaca", "binance"]  # keys stay in the server's environment
    symbols: str = Field(pattern=SYMBOLS)  # comma-separated, e.g. AAPL,MSFT or BTC/USDT
    start: str = Field(pattern=DAY)  # first day, YYYY-MM-DD
    timeframe: TIMEFRAME = "1d"

    def command(self) -> JobCommand:
        return JobCommand("fetch", ("data", "fetch", "--source", self.source, "--symbols",
                                    self.symbols, "--start", self.start, "--timeframe",
                                    self.timeframe), f"fetch {self.symbols} from {self.source}")


class ImportJob(Strict):
    symbol: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$")  # stored under it
    content: str = Field(min_length=1, max_length=1_500_000)  # the CSV file's text
    timeframe: TIMEFRAME = "1d"

    def command(self, path: str) -> JobCommand:
        return JobCommand("import", ("data", "import", path, "--symbol", self.symbol.upper(),
                                     "--timeframe", self.timeframe),
                          f"import CSV as {self.symbol.upper()}")


def profiles() -> list[str]:
    """The training profiles in configs/train/."""
    return sorted(path.stem for path in (CONFIG_DIR / "train").glob("*.toml"))


class TrainJob(Strict):
    variant: Variant
    profile: str = Field(default="quick", pattern=r"^[a-z0-9_\-]{1,40}$")  # configs/train/*.toml
    walk_forward: bool = False  # one model per yearly fold, with the baselines
    overrides: list[Override] = Field(default_factory=list, max_length=20)  # e.g. patience=5

    def command(self) -> JobCommand:
        arguments = ["train", "--variant", self.variant, "--profile", self.profile]
        if self.walk_forward:
            arguments.append("--walk-forward")
        for item in self.overrides:
            arguments += ["--set", item]
        mode = " walk-forward" if self.walk_forward else ""
        return JobCommand("train", tuple(arguments),
                          f"train {self.variant} ({self.profile}{mode})")


class Costs(Strict):
    slippage_bps: float = Field(default=10.0, ge=0, le=500)  # per fill, basis points
    commission: float = Field(default=0.001, ge=0, le=0.05)  # fraction of notional per fill


class Limits(Strict):
    max_position: float = Field(default=1.0, gt=0, le=1)  # cap on |position| per symbol
    max_gross: float = Field(default=1.0, gt=0, le=5)  # cap on gross exposure / equity
    daily_loss_stop: float = Field(default=0.05, ge=0, lt=1)  # 0: off


class Rule(Strict):
    no_trade_band: float = Field(default=0.25, ge=0, le=2)  # position changes below it are skipped
    min_hold: int = Field(default=10, ge=0, le=1000)  # bars a position is held at least


class BacktestJob(Strict):
    variant: Variant | None = None  # backtest this variant's walk-forward predictions, or
    signals: str | None = Field(default=None, max_length=300)  # a signal file in the home
    costs: Costs = Field(default_factory=Costs)
    limits: Limits = Field(default_factory=Limits)
    rule: Rule = Field(default_factory=Rule)

    def command(self, out: str, signals_path: str | None) -> JobCommand:
        arguments = ["backtest", "--out", out,
                     "--slippage-bps", str(self.costs.slippage_bps),
                     "--commission", str(self.costs.commission),
                     "--max-position", str(self.limits.max_position),
                     "--max-gross", str(self.limits.max_gross),
                     "--daily-loss-stop", str(self.limits.daily_loss_stop)]
        if signals_path is not None:
            arguments += ["--signals", signals_path]
            what = self.signals
        else:
            arguments += ["--walk-forward", "--variant", self.variant or "hybrid",
                          "--min-hold", str(self.rule.min_hold),
                          "--no-trade-band", str(self.rule.no_trade_band)]
            what = f"{self.variant} walk-forward"
        return JobCommand("backtest", tuple(arguments), f"backtest {what}")


class ExportJob(Strict):
    variant: Variant

    def command(self) -> JobCommand:
        return JobCommand("export", ("export", "--variant", self.variant),
                          f"export {self.variant} to ONNX")


class Settings(Strict):
    """The Settings page: defaults for backtests and the paper portfolio's costs."""

    rule: Rule = Field(default_factory=Rule)
    costs: Costs = Field(default_factory=Costs)
    limits: Limits = Field(default_factory=Limits)

    @property
    def cost_per_unit(self) -> float:
        """One fill's cost as a fraction of notional: slippage plus commission."""
        return self.costs.slippage_bps / 10_000 + self.costs.commission
