"""Training configuration: frozen dataclasses, TOML profiles and overrides by field name.

A run is described by one `TrainConfig` that nests one dataclass per component. Profiles are
small TOML files in `configs/train/` whose tables mirror the nesting (`[optim]`, `[loss]`, ...);
`[model.<variant>]` tables hold per-variant `build_model` overrides. The CLI changes single
fields with `--set name=value`, where `name` is a field name (`patience`) or a dotted path
(`optim.patience`) when a name is ambiguous, or `model.<variant>.<field>` for a model's
(`model.hybrid.xlstm.layout=mmsm`).
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.errors import ArtifactError
from contract.home import CONFIG_DIR

PROFILE_DIR = CONFIG_DIR / "train"


@dataclass(frozen=True)
class DataConfig:
    universe: str = "sample"  # universe whose symbols are trained on (configs/universes/)
    symbols: tuple[str, ...] = ()  # explicit symbols instead of the universe (empty: universe)
    timeframe: str = "1d"  # bar timeframe read from the store
    selection_threshold: float = 0.8  # correlation filter threshold for feature selection
    embargo: int = 24  # bars dropped between training and validation (>= longest horizon)


@dataclass(frozen=True)
class LossConfig:
    direction_weight: float = 1.0  # cross-entropy over down/flat/up, averaged over horizons
    returns_weight: float = 1.0  # Huber on forward returns, in units of their training std
    volatility_weight: float = 0.5  # Huber on forward volatility, in units of its training std
    huber_delta: float = 1.0  # Huber transition point, in target standard deviations
    label_smoothing: float = 0.0  # cross-entropy label smoothing


@dataclass(frozen=True)
class CurriculumConfig:
    enabled: bool = True  # False trains every task at full weight from the first epoch
    direction_epochs: int = 3  # epochs that train direction alone
    ramp_epochs: int = 5  # epochs over which returns and volatility rise linearly to full weight


@dataclass(frozen=True)
class OptimConfig:
    max_epochs: int = 100  # upper bound on epochs
    batch_size: int = 64  # windows per step
    learning_rate: float = 3e-4  # AdamW peak learning rate
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    min_learning_rate: float = 1e-6  # floor of the cosine schedule
    restart_epochs: int = 10  # first cosine cycle length in epochs (T_0)
    restart_multiplier: int = 2  # each cycle is this many times longer than the last (T_mult)
    grad_clip: float = 1.0  # max global gradient norm
    patience: int = 15  # epochs without a better validation loss before stopping
    min_delta: float = 0.0  # improvement below this does not reset the patience
    steps_per_epoch: int = 0  # cap on training steps per epoch (0: one pass over the data)
    max_val_windows: int = 0  # cap on validation windows, evenly spaced (0: all)
    time_budget_s: float = 0.0  # wall-clock budget per model in seconds (0: none)
    seed: int = 0  # seeds weights, shuffling and dropout
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    mixed_precision: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    threads: int = 0  # torch CPU threads (0: torch's default)


@dataclass(frozen=True)
class WalkForwardConfig:
    first_validation_year: int = 2008  # earliest year validated on (earlier years only train)
    last_validation_year: int = 0  # latest year validated on (0: the last year with data)
    keep_fold_checkpoints: bool = False  # save every fold's model, not only the last one
    scheme: str = "yearly"  # "yearly" (every symbol) or "symbols" (validate on held-out ones)
    holdout_symbols: tuple[str, ...] = ("SPY",)  # validated on, never trained on, under "symbols"
    calibration_windows: int = 512  # training windows the calibration is fitted on (0: none)


@dataclass(frozen=True)
class TrainConfig:
    profile: str = "default"  # the profile this config came from
    data: DataConfig = field(default_factory=DataConfig)  # what to train on
    loss: LossConfig = field(default_factory=LossConfig)  # task losses and weights
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)  # task schedule
    optim: OptimConfig = field(default_factory=OptimConfig)  # optimiser, schedule, stopping
    walk_forward: WalkForwardConfig = field(default_factory=WalkForwardConfig)  # yearly folds
    model: dict[str, dict[str, Any]] = field(default_factory=dict)  # build_model overrides

    def model_overrides(self, variant: str) -> dict[str, Any]:
        """The `build_model` keyword overrides this profile gives `variant` (often none)."""
        return dict(self.model.get(variant, {}))


SECTIONS = ("data", "loss", "curriculum", "optim", "walk_forward")


def load_profile(name_or_path: str | Path) -> TrainConfig:
    """Read a profile by name (`quick`, `full`) or from a TOML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.toml"
    if not path.exists():
        known = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
        raise ArtifactError(f"{path}: no such training profile (known: {', '.join(known)})")
    raw = tomllib.loads(path.read_text())
    return config_from_dict({**raw, "profile": raw.get("profile", path.stem)}, origin=str(path))


def config_from_dict(raw: dict[str, Any], origin: str = "config") -> TrainConfig:
    """Build a `TrainConfig` from nested plain values (a parsed profile or a saved config)."""
    unknown = set(raw) - set(SECTIONS) - {"profile", "model"}
    if unknown:
        raise ArtifactError(f"{origin}: unknown section(s) {sorted(unknown)}")
    sections = {}
    for name in SECTIONS:
        section_type = _field_type(TrainConfig, name)
        sections[name] = _build_section(section_type, raw.get(name, {}), f"{origin} [{name}]")
    model = {variant: dict(values) for variant, values in raw.get("model", {}).items()}
    return TrainConfig(profile=str(raw.get("profile", "default")), model=model, **sections)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain nested values (JSON-ready) of a config; `config_from_dict` reverses it."""
    return dataclasses.asdict(config)


def apply_overrides(config: TrainConfig, overrides: Mapping[str, str]) -> TrainConfig:
    """Return `config` with fields replaced; keys are field names or `section.field` paths,
    or `model.<variant>.<field>[.<field>]` for a variant's `build_model` overrides
    (`model.hybrid.xlstm.layout=mmsm`; the value is read as TOML, else as text)."""
    for key, text in overrides.items():
        if key.startswith("model."):
            config = _override_model(config, key, text)
            continue
        section_name, field_name = _locate(key)
        section = getattr(config, section_name)
        value = _parse_value(_field_type(type(section), field_name), text, key)
        config = dataclasses.replace(
            config, **{section_name: dataclasses.replace(section, **{field_name: value})}
        )
    return config


def _override_model(config: TrainConfig, key: str, text: str) -> TrainConfig:
    _, variant, *path = key.split(".")
    if not path:
        raise ArtifactError(f"override {key!r}: use model.<variant>.<field>")
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = text
    model = {name: dict(fields) for name, fields in config.model.items()}
    table = model.setdefault(variant, {})
    for name in path[:-1]:
        table[name] = table = dict(table.get(name, {}))
    table[path[-1]] = value
    return dataclasses.replace(config, model=model)


def _locate(key: str) -> tuple[str, str]:
    if "." in key:
        section_name, field_name = key.split(".", 1)
        if section_name in SECTIONS and field_name in _field_names(section_name):
            return section_name, field_name
        raise ArtifactError(f"override {key!r}: no such config field")
    owners = [name for name in SECTIONS if key in _field_names(name)]
    if len(owners) != 1:
        problem = "no such config field" if not owners else f"ambiguous, use one of {owners}"
        raise ArtifactError(f"override {key!r}: {problem}")
    return owners[0], key


def _field_names(section_name: str) -> set[str]:
    return {f.name for f in dataclasses.fields(_field_type(TrainConfig, section_name))}


def _field_type(owner: type, name: str) -> Any:
    return typing.get_type_hints(owner)[name]


# Fields that configs saved by older versions carry and this one ignores (data.context: the
# market context is features.context.MARKET_CONTEXT, the same for training and serving).
RETIRED_FIELDS = {"DataConfig": {"context"}}


def _build_section(section_type: type, values: dict[str, Any], origin: str) -> Any:
    known = {f.name for f in dataclasses.fields(section_type)}
    values = {k: v for k, v in values.items()
              if k not in RETIRED_FIELDS.get(section_type.__name__, ())}
    unknown = set(values) - known
    if unknown:
        raise ArtifactError(f"{origin}: unknown field(s) {sorted(unknown)}")
    converted = {
        name: tuple(value) if isinstance(value, list) else value for name, value in values.items()
    }
    return section_type(**converted)


def _parse_value(kind: Any, text: str, key: str) -> Any:
    try:
        if kind is bool:
            if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return text.lower() in {"true", "1", "yes"}
        if kind in (int, float, str):
            return kind(text)
        return tuple(part.strip() for part in text.split(",") if part.strip())
    except ValueError:
        raise ArtifactError(f"override {key}={text!r}: expected {kind}") from None
