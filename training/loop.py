"""The training loop: AdamW, warm-restart cosine schedule, clipping, early stopping, resuming.

One `Trainer` fits one model on one fold. Each epoch trains on a seeded shuffle of the training
windows (the order depends only on the seed and the epoch number, so a resumed run sees the same
batches as an uninterrupted one), then scores the validation windows with the configured (full)
task weights, whatever the curriculum gives training, so validation losses of different epochs
compare. The best weights by validation loss are kept; training stops after `patience` epochs
without improvement, at `max_epochs`, or when the wall-clock budget is spent.

After every epoch the whole state (weights, optimiser, schedule, random generators, history) is
written to `trainer_state.pt`, so `fit(resume=True)` continues exactly where a run stopped.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from contract.model import POSITION_DIM
from training.config import TrainConfig
from training.curriculum import TaskWeights, full_weights, task_weights
from training.dataset import FoldData
from training.losses import MISSING_CLASS, MultiTaskLoss, Targets
from training.metrics import Predictions, direction_scores

STATE_FILE = "trainer_state.pt"
EVALUATION_CHUNK = 128  # windows per forward pass when no gradient is needed
FORWARD_SHARE = 0.4  # a forward pass's share of a training step's time (for budget planning)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one record per epoch
    best_epoch: int = -1  # epoch of the kept weights
    best_val_loss: float = math.inf  # their validation loss
    stopped_by: str = ""  # "patience", "max_epochs" or "time_budget"
    seconds: float = 0.0  # training wall time, over all sessions of a resumed run


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    """Fits `model` on `data` as `config` says; `state_dir` (optional) makes the run resumable."""

    def __init__(
        self,
        model: nn.Module,
        data: FoldData,
        config: TrainConfig,
        state_dir: Path | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        progress: bool = True,
    ):
        self.config = config
        self.optim = config.optim
        self.data = data
        self.device = pick_device(self.optim.device)
        self.model = model.to(self.device)
        self.loss = MultiTaskLoss(
            config.loss,
            torch.from_numpy(data.return_scale),
            torch.from_numpy(data.volatility_scale),
        ).to(self.device)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.optim.learning_rate, weight_decay=self.optim.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            self.optimizer,
            T_0=self.optim.restart_epochs,
            T_mult=self.optim.restart_multiplier,
            eta_min=self.optim.min_learning_rate,
        )
        self.state_path = state_dir / STATE_FILE if state_dir else None
        self.on_epoch = on_epoch
        self.progress = progress
        self.autocast = self.device.type == "cuda" and self.optim.mixed_precision
        self.validation = _evenly_spaced(data.validation, self.optim.max_val_windows)
        self.evaluation_seconds = 0.0  # how long the last validation took (budget planning)

    def fit(self, resume: bool = False) -> FitResult:
        """Train until early stopping, `max_epochs` or the time budget; keep the best weights."""
        result, best_state, bad_epochs, start_epoch = FitResult(), None, 0, 0
        if resume and self.state_path and self.state_path.exists():
            result, best_state, bad_epochs, start_epoch = self._load_state()
            result.stopped_by = ""  # a finished run resumed with a larger max_epochs goes on
        started = time.perf_counter() - result.seconds
        epochs = tqdm(
            range(start_epoch, self.optim.max_epochs),
            desc="epochs",
            unit="epoch",
            initial=start_epoch,
            total=self.optim.max_epochs,
            disable=not self.progress,
        )
        for epoch in epochs:
            record = self._train_epoch(epoch, started)
            evaluation_started = time.perf_counter()
            record.update(self.evaluate())
            self.evaluation_seconds = time.perf_counter() - evaluation_started
            record["seconds"] = time.perf_counter() - started
            record["out_of_time"] = record["out_of_time"] or self._out_of_time(started)
            result.history.append(record)
            epochs.set_postfix(
                loss=f"{record['train_loss']:.4f}",
                val_loss=f"{record['val_loss']:.4f}",
                val_acc=f"{record['val_accuracy_1']:.3f}",
            )
            if record["val_loss"] < result.best_val_loss - self.optim.min_delta:
                result.best_val_loss, result.best_epoch = record["val_loss"], epoch
                best_state, bad_epochs = copy.deepcopy(self.model.state_dict()), 0
            else:
                bad_epochs += 1
            result.seconds = record["seconds"]
            if self.on_epoch:
                self.on_epoch(record)
            if bad_epochs >= self.optim.patience:
                result.stopped_by = "patience"
            elif record["out_of_time"]:
                result.stopped_by = "time_budget"
            elif epoch + 1 == self.optim.max_epochs:
                result.stopped_by = "max_epochs"
            self._save_state(result, best_state, bad_epochs, epoch + 1)
            if result.stopped_by:
                break
        epochs.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return result

    def _train_epoch(self, epoch: int, started: float) -> dict:
        weights = task_weights(epoch, self.config.loss, self.config.curriculum)
        batches = self._epoch_batches(epoch)
        self.model.train()
        totals = np.zeros(4)
        out_of_time, steps = False, 0
        bar = tqdm(
            batches, desc=f"epoch {epoch + 1}", unit="step", leave=False, disable=not self.progress
        )
        for step, samples in enumerate(bar):
            step_started = time.perf_counter()
            self.scheduler.step(epoch + step / len(batches))
            parts = self._loss(samples, weights)
            self.optimizer.zero_grad(set_to_none=True)
            parts.total.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.optim.grad_clip)
            self.optimizer.step()
            totals += [part.item() for part in parts]
            steps += 1
            bar.set_postfix(loss=f"{totals[0] / steps:.4f}")
            if not self.evaluation_seconds:  # before the first validation: guess its length
                step_seconds = time.perf_counter() - step_started
                forward_passes = len(self.validation) / self.optim.batch_size
                self.evaluation_seconds = FORWARD_SHARE * step_seconds * forward_passes
            if self._out_of_time(started):
                out_of_time = True
                break
        bar.close()
        means = totals / max(steps, 1)
        return {
            "epoch": epoch,
            "steps": steps,
            "learning_rate": self.optimizer.param_groups[0]["lr"],
            "weights": [weights.direction, weights.returns, weights.volatility],
            "train_loss": means[0],
            "train_direction": means[1],
            "train_returns": means[2],
            "train_volatility": means[3],
            "out_of_time": out_of_time,
        }

    def _out_of_time(self, started: float) -> bool:
        """Whether the budget leaves no room for another step and the validation after it."""
        budget = self.optim.time_budget_s
        return bool(budget) and time.perf_counter() - started + self.evaluation_seconds >= budget

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        order = np.random.default_rng([self.optim.seed, epoch]).permutation(self.data.train)
        size = self.optim.batch_size
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        if self.optim.steps_per_epoch:
            batches = batches[: self.optim.steps_per_epoch]
        return batches

    def _loss(self, samples: np.ndarray, weights: TaskWeights):
        inputs, targets = self._tensors(samples)
        return self.loss(*self._forward(inputs), targets, weights)

    def _forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            direction, returns, volatility, _ = self.model(inputs, self._position(len(inputs)))
        return direction, returns, volatility

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss (full task weights) and 1-bar direction accuracy of the model now."""
        self.model.eval()
        totals, count, down_up = np.zeros(4), 0, []
        weights = full_weights(self.config.loss)
        for samples in _chunks(self.validation, EVALUATION_CHUNK):
            inputs, targets = self._tensors(samples)
            direction, returns, volatility = self._forward(inputs)
            parts = self.loss(direction, returns, volatility, targets, weights)
            totals += np.array([part.item() for part in parts]) * len(samples)
            count += len(samples)
            one_bar = torch.softmax(direction[:, 0].float(), dim=-1)  # (B, 3)
            down_up.append(one_bar[:, [0, 2]].cpu().numpy())
        down_up = np.concatenate(down_up)
        realised = self.data.market.labels("ret")[self.data.market.windows.ends[self.validation]]
        accuracy, balanced = direction_scores(down_up[:, 0], down_up[:, 1], realised[:, 0])
        means = totals / max(count, 1)
        return {
            "val_loss": means[0],
            "val_direction": means[1],
            "val_returns": means[2],
            "val_volatility": means[3],
            "val_accuracy_1": accuracy,
            "val_balanced_accuracy_1": balanced,
        }

    @torch.no_grad()
    def predict(self, samples: np.ndarray) -> Predictions:
        """Class probabilities, returns and volatility for `samples` (sample indices)."""
        self.model.eval()
        outputs = [[], [], []]
        for chunk in _chunks(samples, EVALUATION_CHUNK):
            inputs = torch.from_numpy(self.data.batch_inputs(chunk)).to(self.device)
            direction, returns, volatility = self._forward(inputs)
            outputs[0].append(torch.softmax(direction.float(), dim=-1).cpu().numpy())
            outputs[1].append(returns.float().cpu().numpy())
            outputs[2].append(volatility.float().cpu().numpy())
        return Predictions(*(np.concatenate(parts).astype(np.float64) for parts in outputs))

    def _tensors(self, samples: np.ndarray) -> tuple[torch.Tensor, Targets]:
        rows = self.data.market.windows.ends[samples]
        market = self.data.market
        direction = market.labels("dir")[rows]
        direction = np.where(np.isfinite(direction), direction, MISSING_CLASS).astype(np.int64)
        targets = Targets(
            torch.from_numpy(direction),
            torch.from_numpy(market.labels("ret")[rows]),
            torch.from_numpy(market.labels("vol")[rows]),
        )
        inputs = torch.from_numpy(self.data.batch_inputs(samples))
        return inputs.to(self.device), Targets(*(t.to(self.device) for t in targets))

    def _position(self, batch: int) -> torch.Tensor:
        # Training windows carry no portfolio: the model learns from a flat position.
        return torch.zeros(batch, POSITION_DIM, device=self.device)

    def _save_state(self, result: FitResult, best_state, bad_epochs: int, next_epoch: int) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "result": result,
            "best_state": best_state,
            "bad_epochs": bad_epochs,
            "next_epoch": next_epoch,
        }
        temporary = self.state_path.with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.state_path)

    def _load_state(self):
        # Loaded on the CPU: the random generator states must stay there, and the weights and
        # optimiser moments are copied onto the model's device by load_state_dict.
        state = torch.load(self.state_path, map_location="cpu", weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state["result"], state["best_state"], state["bad_epochs"], state["next_epoch"]


def _chunks(samples: np.ndarray, size: int) -> list[np.ndarray]:
    return [samples[i : i + size] for i in range(0, len(samples), size)]


def _evenly_spaced(samples: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` samples spread evenly over `samples` (all of them when limit is 0)."""
    if not limit or len(samples) <= limit:
        return samples
    return samples[np.linspace(0, len(samples) - 1, limit).round().astype(np.int64)]
