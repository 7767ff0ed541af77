"""Checkpoint folders: weights, the config that rebuilds the model, and its input names.

``checkpoints/<variant>/<run-id>/`` holds ``model.safetensors`` (weights and the input
normaliser buffers), ``config.json`` (variant, model config, n_features, position_dim) and
``features.json`` (input column names in order). The training run adds ``metrics.jsonl``,
``summary.json`` (training span, validation metrics) and plots next to them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from contract.errors import ArtifactError
from contract.model import POSITION_DIM
from contract.runs import CONFIG_FILE, FEATURES_FILE, SUMMARY_FILE, WEIGHTS_FILE
from training.models import VARIANTS, TradecastModel, build_model


def save_checkpoint(
    folder: str | os.PathLike[str],
    model: TradecastModel,
    feature_names: list[str],
    *,
    variant: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Write weights, config and feature names into ``folder`` (created if needed)."""
    if variant is not None and variant != model.variant:
        raise ValueError(f"checkpoint says variant {variant!r} but the model is {model.variant!r}")
    if len(feature_names) != model.n_features:
        raise ValueError(f"{len(feature_names)} feature names for a {model.n_features}-wide model")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, folder / WEIGHTS_FILE)
    config = {
        "variant": model.variant,
        "config": dataclasses.asdict(model.config),
        "n_features": model.n_features,
        "position_dim": POSITION_DIM if model.uses_position else 0,
        "overrides": overrides or {},
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    (folder / FEATURES_FILE).write_text(json.dumps(list(feature_names), indent=2))
    return folder


def read_json(path: Path) -> Any:
    """Parse a checkpoint JSON file, turning a missing or broken file into an ArtifactError."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing (not a complete checkpoint folder)") from None
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None


def load_checkpoint(folder: str | os.PathLike[str]) -> tuple[TradecastModel, dict[str, Any]]:
    """Rebuild the model from ``folder``; info has variant, feature_names, summary and path."""
    folder = Path(folder)
    config = read_json(folder / CONFIG_FILE)
    feature_names = read_json(folder / FEATURES_FILE)
    variant = config.get("variant")
    if variant not in VARIANTS:
        raise ArtifactError(f"{folder / CONFIG_FILE}: unknown variant {variant!r}")
    if len(feature_names) != config["n_features"]:
        raise ArtifactError(
            f"{folder / FEATURES_FILE}: {len(feature_names)} names but config.json says "
            f"n_features={config['n_features']}"
        )
    model = build_model(variant, config["n_features"], **config["config"])
    try:
        model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    except (FileNotFoundError, RuntimeError, OSError) as error:
        raise ArtifactError(f"{folder / WEIGHTS_FILE}: cannot load weights ({error})") from None
    summary_path = folder / SUMMARY_FILE
    info = {
        "variant": variant,
        "feature_names": feature_names,
        "position_dim": config["position_dim"],
        "summary": read_json(summary_path) if summary_path.exists() else {},
        "path": str(folder),
    }
    return model.eval(), info
