"""The models the service answers with: every variant named in exported_models/manifest.json.

All variants are opened once, when the registry is built (never lazily on a request). `reload`
opens the manifest's current versions off to the side and swaps them in with one assignment,
so a request sees either the old set or the new set, never a mix; if any fails to load, the old
set stays and the error says why.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from contract.artifacts import (
    ALLOW_UNTRAINED_ENV,
    MANIFEST_FILE,
    METADATA_FILE,
    PRECISIONS,
    is_untrained,
    manifest_folders,
    read_threads,
    untrained_allowed,
)
from contract.errors import ArtifactError
from serving.artifacts import ModelArtifact, load_artifact
from serving.errors import UnknownVariantError

PRECISION_ENV = "TRADECAST_PRECISION"  # "int8" serves the int8 copies where exported
DEFAULT_THREADS = 1  # intra-op threads of a variant that threads.json does not name
logger = logging.getLogger(__name__)


def refuse_untrained(exported_dir: Path) -> None:
    """Fail now, before a server starts, when the manifest names an untrained export and
    ``TRADECAST_ALLOW_UNTRAINED=1`` is not set (the same rule `load_models` applies)."""
    if untrained_allowed():
        return
    for variant, folder in manifest_folders(exported_dir).items():
        path = folder / METADATA_FILE
        try:
            metadata = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # load_models names a missing or damaged file precisely
        if isinstance(metadata, dict) and is_untrained(metadata):
            raise untrained_error(variant, path)


def untrained_error(variant: str, metadata_path: Path) -> ArtifactError:
    return ArtifactError(
        f"{metadata_path}: '{variant}' was exported from untrained (random) weights; train it "
        f"and export again, or serve it anyway with `tradecast serve --allow-untrained` "
        f"({ALLOW_UNTRAINED_ENV}=1)"
    )


def resolve_precision(precision: str | None) -> str:
    """The argument, else ``TRADECAST_PRECISION``, else fp32."""
    chosen = precision or os.environ.get(PRECISION_ENV) or "fp32"
    if chosen not in PRECISIONS:
        raise ArtifactError(f"{PRECISION_ENV}={chosen!r}: use one of {', '.join(PRECISIONS)}")
    return chosen


def load_models(exported_dir: Path, intra_op_threads: int | None = None,
                precision: str | None = None) -> dict[str, ModelArtifact]:
    """Open every variant of the manifest; all or nothing.

    Threads: ``intra_op_threads`` when given, else the variant's entry in threads.json
    (``tradecast bench threads``), else ``DEFAULT_THREADS``. An untrained export (its metadata
    says ``"untrained": true``) is refused unless ``TRADECAST_ALLOW_UNTRAINED=1``.
    """
    measured = read_threads(exported_dir) if intra_op_threads is None else {}
    precision = resolve_precision(precision)
    allow_untrained = untrained_allowed()
    models = {}
    for variant, folder in manifest_folders(exported_dir).items():
        threads = intra_op_threads or measured.get(variant, DEFAULT_THREADS)
        artifact = load_artifact(folder, threads, precision)
        if artifact.variant != variant:
            raise ArtifactError(
                f"{folder / METADATA_FILE}: variant '{artifact.variant}' but the manifest "
                f"lists it as '{variant}'"
            )
        if artifact.untrained and not allow_untrained:
            raise untrained_error(variant, folder / METADATA_FILE)
        models[variant] = artifact
    return models


class ModelRegistry:
    """The loaded variants; `get` is lock-free, `reload` swaps the whole set at once."""

    def __init__(self, exported_dir: Path, intra_op_threads: int | None = None,
                 precision: str | None = None) -> None:
        self.exported_dir = exported_dir
        self.intra_op_threads = intra_op_threads  # None: threads.json, else DEFAULT_THREADS
        self.precision = precision  # None: TRADECAST_PRECISION, else fp32
        self._stamp = manifest_stamp(exported_dir)
        self._models: Mapping[str, ModelArtifact] = load_models(exported_dir, intra_op_threads,
                                                                precision)
        self._reload_lock = threading.Lock()

    @property
    def models(self) -> Mapping[str, ModelArtifact]:
        """A consistent snapshot of the loaded set (hold on to it for one request)."""
        return self._models

    def get(self, variant: str) -> ModelArtifact:
        models = self._models
        if variant not in models:
            raise UnknownVariantError(
                f"variant: unknown '{variant}' (loaded: {', '.join(sorted(models))})"
            )
        return models[variant]

    def current(self) -> Mapping[str, ModelArtifact]:
        """`models`, first swapping in a manifest that was replaced since it was read.

        With several server processes, `/reload` reaches one of them; the others (and the
        live-state service) see the manifest change here, on their next request (a stat call).
        A set that fails to load is logged, the current one kept, and not retried until the
        manifest changes again.
        """
        stamp = manifest_stamp(self.exported_dir)
        if stamp != self._stamp:
            with self._reload_lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._models = load_models(
                            self.exported_dir, self.intra_op_threads, self.precision)
                    except ArtifactError as error:
                        logger.error("kept the loaded models: %s", error)
        return self._models

    def reload(self) -> dict[str, str]:
        """Re-read the manifest and swap in its versions; on failure keep the current ones."""
        with self._reload_lock:
            stamp = manifest_stamp(self.exported_dir)
            fresh = load_models(self.exported_dir, self.intra_op_threads, self.precision)
            self._models, self._stamp = fresh, stamp
        return {variant: artifact.version for variant, artifact in fresh.items()}


def manifest_stamp(exported_dir: Path) -> tuple[int, int, int] | None:
    """What changes when the manifest is rewritten or replaced (None: no manifest)."""
    try:
        stat = os.stat(exported_dir / MANIFEST_FILE)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
