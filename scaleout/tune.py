"""Ray Tune over the local training functions: walk-forward folds and hyperparameter sweeps.

- `walk_forward_ray`: one Tune trial per fold, each calling `training.runs.train_fold` (what the
  sequential run calls per fold) and reporting its epochs; then `training.runs.train_run` over
  the same run folder finds every fold finished and writes the stitched predictions, summary
  and plots, so `tradecast train report` and the backtest read the run as any other.
- `sweep`: one trial per point of a search space (a small TOML file, `configs/tune/`), each a
  whole `train_run` with that point's overrides, in a run folder of its own.

On a cluster the home must be a path every node sees: the trials write into it.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import ArtifactError, TradecastError
from contract.home import CONFIG_DIR, Home
from contract.runs import SUMMARY_FILE
from features.splits import Fold
from marketdata.store import BarStore
from scaleout.cluster import connect
from training.config import TrainConfig, apply_overrides, load_profile
from training.dataset import MarketData, load_market
from training.runs import start_run, train_fold, train_run, variant_names
from training.walk_forward import make_folds

TUNE_DIR = "ray_tune"  # Tune's own experiment state, inside the run (or sweep) folder
SPACES_DIR = CONFIG_DIR / "tune"


def fold_trial(params: dict, *, market: MarketData, folds: list[Fold], variant: str,
               config: TrainConfig, run_dir: str) -> None:
    """One Tune trial: the fold ``params["fold"]`` of the run, every epoch reported."""
    from ray import tune

    index = params["fold"]
    train_fold(market, folds[index], variant, config, Path(run_dir),
               last=index == len(folds) - 1, progress=False, on_epoch=tune.report)


def walk_forward_ray(home: Home, variant: str, config: TrainConfig,
                     market: MarketData | None = None) -> Path:
    """`train_run(..., walk_forward=True)` with the folds trained at once, one per Tune trial."""
    from ray import tune

    connect()
    market = market or load_market(BarStore(home.bars_dir), config.data, progress=False)
    folds = make_folds(market, config, walk_forward=True)
    run_dir = start_run(home, variant, config, walk_forward=True)
    trainable = tune.with_parameters(fold_trial, market=market, folds=folds, variant=variant,
                                     config=config, run_dir=str(run_dir))
    fit(trainable, config, {"fold": tune.grid_search(list(range(len(folds))))}, run_dir)
    return train_run(home, variant, config, walk_forward=True, run_dir=run_dir, market=market,
                     progress=False)


def train_from_cli_ray(home: Home, variant: str, *, profile: str, walk_forward: bool = False,
                       resume: str | None = None, overrides: Mapping[str, str] | None = None
                       ) -> list[Path]:
    """What `tradecast train --walk-forward --engine ray` does: each variant's folds on Ray."""
    if not walk_forward or resume:
        raise TradecastError("--engine ray trains walk-forward runs: add --walk-forward "
                             "(a resume runs locally, without --engine ray)")
    config = apply_overrides(load_profile(profile), overrides or {})
    market = load_market(BarStore(home.bars_dir), config.data, progress=False)
    return [walk_forward_ray(home, name, config, market) for name in variant_names(variant)]


def fit(trainable: Any, config: TrainConfig, space: dict, folder: Path) -> list:
    """Run the trials (one CPU each, or the profile's torch threads); a failed trial fails all."""
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": config.optim.threads or 1}),
        param_space=space,
        run_config=tune.RunConfig(storage_path=str(folder.resolve()), name=TUNE_DIR,
                                  verbose=0),
    )
    results = tuner.fit()
    if results.errors:
        raise TradecastError(f"{len(results.errors)} Ray Tune trial(s) failed: {results.errors[0]}")
    return list(results)


@dataclass(frozen=True)
class SearchSpace:
    variant: str  # the model variant every trial trains
    profile: str  # the base profile in configs/train/
    walk_forward: bool  # each trial a walk-forward run (else a single fold)
    grid: dict[str, list]  # config field (as for `--set`) -> values tried (every combination)

    def points(self) -> list[dict[str, str]]:
        """Every combination of the grid, as `--set` style overrides."""
        names = list(self.grid)
        return [dict(zip(names, (str(v) for v in values), strict=True))
                for values in itertools.product(*self.grid.values())]


def load_space(name_or_path: str) -> SearchSpace:
    """A search space: `configs/tune/<name>.toml` or a path to such a file."""
    path = Path(name_or_path)
    path = path if path.suffix == ".toml" else SPACES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise ArtifactError(f"{path}: no such search space")
    document = tomllib.loads(path.read_text())
    grid = document.get("grid")
    if not isinstance(grid, dict) or not grid or not all(
            isinstance(v, list) and v for v in grid.values()):
        raise ArtifactError(f"{path}: [grid] must map config fields to non-empty lists")
    return SearchSpace(variant=str(document.get("variant", "simplex")),
                       profile=str(document.get("profile", "quick")),
                       walk_forward=bool(document.get("walk_forward", False)), grid=grid)


def sweep_trial(params: dict, *, market: MarketData, home_root: str, space: SearchSpace,
                config: TrainConfig) -> None:
    """One Tune trial: a whole training run with ``params["overrides"]``, epochs reported, then
    its run folder and validation loss."""
    from ray import tune

    home = Home(Path(home_root))
    overrides = params["overrides"]
    run_dir = train_run(home, space.variant, apply_overrides(config, overrides),
                        walk_forward=space.walk_forward, progress=False, market=market,
                        run_suffix="-tune", on_epoch=tune.report)
    fit_record = json.loads((run_dir / SUMMARY_FILE).read_text())["fit"]
    tune.report({"run_dir": str(run_dir), "best_val_loss": fit_record["best_val_loss"]})


@dataclass(frozen=True)
class TrialOutcome:
    overrides: dict[str, str]  # the point of the search space
    run_dir: Path  # its training run
    best_val_loss: float  # the (last fold's) best validation loss


def sweep(home: Home, space: SearchSpace, sweep_dir: Path) -> list[TrialOutcome]:
    """Every point of ``space`` trained as a Tune trial; outcomes best (lowest loss) first."""
    from ray import tune

    connect()
    config = load_profile(space.profile)
    market = load_market(BarStore(home.bars_dir), config.data, progress=False)
    trainable = tune.with_parameters(sweep_trial, market=market, home_root=str(home.root),
                                     space=space, config=config)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    results = fit(trainable, config, {"overrides": tune.grid_search(space.points())},
                  sweep_dir)
    outcomes = [TrialOutcome(result.config["overrides"], Path(result.metrics["run_dir"]),
                             result.metrics["best_val_loss"]) for result in results]
    return sorted(outcomes, key=lambda o: o.best_val_loss)
