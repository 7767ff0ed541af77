"""Online fine-tuning: continue a trained run on the bars that arrived after its data ended.

The run's model keeps its inputs (feature list) and its normaliser, so a fine-tuned model is a
drop-in replacement. It trains from the run's weights with a lower learning rate, on the newest
fold of the data now in the store, and is validated on that fold's year. It becomes a new run
(`<run-id>-ft`) either way; it is exported as a new version only if its validation loss is not
worse than the current model's on the same fold, and otherwise keeps its record but not its
weights, so that no later export picks it up.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contract.errors import ArtifactError
from contract.home import Home
from contract.runs import WEIGHTS_FILE
from marketdata.store import BarStore
from training.checkpoint import load_checkpoint
from training.config import TrainConfig
from training.dataset import load_market, prepare_fold
from training.export import export_checkpoint
from training.loop import Trainer
from training.runs import find_run, read_run_config, read_summary, train_run
from training.walk_forward import StartingPoint, make_folds

LEARNING_RATE_FACTOR = 0.1  # fine-tuning steps are this much smaller than the run's
DECISION_FILE = "finetune.json"


@dataclass(frozen=True)
class FinetuneOutcome:
    source_run: Path  # the run that was continued
    new_run: Path  # the fine-tuned run
    current_val_loss: float  # the source model on the newest fold's validation year
    tuned_val_loss: float  # the fine-tuned model on the same windows
    accepted: bool  # not worse, so exported
    exported: Path | None  # the exported version's folder, when accepted

    def describe(self) -> str:
        verdict = (
            f"exported as {self.exported}"
            if self.accepted
            else "worse than the current model: not exported"
        )
        return (
            f"fine-tuned {self.source_run.name} -> {self.new_run.name}: validation loss "
            f"{self.current_val_loss:.4f} -> {self.tuned_val_loss:.4f}, {verdict}"
        )


def finetune(
    home: Home, run: str, epochs: int = 5, progress: bool = True, export: bool = True
) -> FinetuneOutcome:
    """Fine-tune `run` on newer bars; export the result only if it is not worse."""
    source = find_run(home, run)
    variant, _, config = read_run_config(source)
    data_end = pd.Timestamp(read_summary(source)["data_span"]["end"])
    model, info = load_checkpoint(source)
    feature_names = list(info["feature_names"])

    market = load_market(BarStore(home.bars_dir), config.data)
    newest = market.windows.row_timestamps.max()
    if newest <= data_end:
        raise ArtifactError(
            f"run {source.name}: no bars after its data end {data_end:%Y-%m-%d}, nothing to "
            "fine-tune on (fetch newer bars first)"
        )
    tune_config = _finetune_config(config, epochs)
    fold = make_folds(market, tune_config, walk_forward=False)[0]
    data = prepare_fold(market, fold, config.data.selection_threshold, feature_names)
    current_loss = float(Trainer(model, data, tune_config, progress=False).evaluate()["val_loss"])

    new_run = train_run(
        home,
        variant,
        tune_config,
        market=market,
        progress=progress,
        start_from=StartingPoint(copy.deepcopy(model), feature_names),
        run_suffix="-ft",
    )
    tuned_loss = read_summary(new_run)["fit"]["best_val_loss"]
    return settle(home, source, new_run, current_loss=current_loss, tuned_loss=tuned_loss,
                  export=export)


def settle(home: Home, source: Path, new_run: Path, *, current_loss: float, tuned_loss: float,
           export: bool = True) -> FinetuneOutcome:
    """Export ``new_run`` if it is not worse than the current model, else drop its weights;
    either way record the decision in the run folder."""
    accepted = bool(tuned_loss <= current_loss)
    exported = export_checkpoint(new_run, home.exported_dir).folder if accepted and export else None
    if not accepted:  # keep the record, drop the weights: `tradecast export` must not pick them
        (new_run / WEIGHTS_FILE).unlink()
    decision = {
        "source_run": str(source),
        "current_val_loss": current_loss,
        "tuned_val_loss": tuned_loss,
        "accepted": accepted,
        "exported": str(exported) if exported else None,
    }
    (new_run / DECISION_FILE).write_text(json.dumps(decision, indent=2) + "\n")
    return FinetuneOutcome(source, new_run, current_loss, tuned_loss, accepted, exported)


def _finetune_config(config: TrainConfig, epochs: int) -> TrainConfig:
    """The run's config with few epochs, smaller steps and every task on from the start."""
    optim = dataclasses.replace(
        config.optim,
        max_epochs=epochs,
        patience=epochs,
        learning_rate=config.optim.learning_rate * LEARNING_RATE_FACTOR,
    )
    curriculum = dataclasses.replace(config.curriculum, enabled=False)
    return dataclasses.replace(config, optim=optim, curriculum=curriculum)
