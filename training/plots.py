"""PNG plots of a run: loss curves per epoch and the walk-forward fold summary."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_loss_curves(history: list[dict], path: Path) -> Path:
    """Training and validation loss per epoch (one line pair per fold), plus validation accuracy."""
    figure, (losses, accuracy) = plt.subplots(1, 2, figsize=(11, 4))
    folds = sorted({record.get("fold", 0) for record in history})
    for fold in folds:
        records = [r for r in history if r.get("fold", 0) == fold]
        epochs = [r["epoch"] + 1 for r in records]
        suffix = f" (fold {fold})" if len(folds) > 1 else ""
        losses.plot(epochs, [r["train_loss"] for r in records], label=f"train{suffix}")
        losses.plot(epochs, [r["val_loss"] for r in records], "--", label=f"validation{suffix}")
        if len(folds) == 1:  # the curriculum raises the training loss as tasks join
            direction = [r["train_direction"] for r in records]
            losses.plot(epochs, direction, ":", label="train, direction only")
        accuracy.plot(epochs, [r["val_accuracy_1"] for r in records], label=f"1-bar{suffix}")
    losses.set(title="multi-task loss", xlabel="epoch", ylabel="loss")
    accuracy.axhline(0.5, color="grey", linewidth=0.8)
    accuracy.set(title="validation direction accuracy", xlabel="epoch", ylabel="accuracy")
    for axes in (losses, accuracy):
        axes.legend(fontsize=7)
    return _save(figure, path)


def plot_fold_summary(
    fold_metrics: dict[str, list[dict]], horizons: tuple[int, ...], path: Path
) -> Path:
    """Per validation year: balanced accuracy and rank IC at each horizon, one line per model."""
    figure, grid = plt.subplots(2, len(horizons), figsize=(4 * len(horizons), 6), squeeze=False)
    for model, folds in fold_metrics.items():
        years = [fold["validation_year"] for fold in folds]
        for column, horizon in enumerate(horizons):
            grid[0, column].plot(
                years, [f[f"balanced_accuracy_{horizon}"] for f in folds], "o-", label=model
            )
            grid[1, column].plot(years, [f[f"ic_{horizon}"] for f in folds], "o-", label=model)
    for column, horizon in enumerate(horizons):
        grid[0, column].set(title=f"balanced accuracy, {horizon} bar(s)", xlabel="validation year")
        grid[1, column].set(title=f"rank IC, {horizon} bar(s)", xlabel="validation year")
        grid[0, column].axhline(0.5, color="grey", linewidth=0.8)
        grid[1, column].axhline(0.0, color="grey", linewidth=0.8)
    grid[0, 0].legend(fontsize=7)
    return _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
