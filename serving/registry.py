"""The models the service answers with: every variant named in exported_models/manifest.json.

All variants are opened once, when the registry is built (never lazily on a request). `reload`
opens the manifest's current versions off to the side and swaps them in with one assignment,
so a request sees either the old set or the new set, never a mix; if any fails to load, the old
set stays and the error says why.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from contract.artifacts import MANIFEST_FILE, PRECISIONS, read_threads
from contract.errors import ArtifactError
from serving.artifacts import ModelArtifact, load_artifact, read_json
from serving.errors import UnknownVariantError

MANIFEST = MANIFEST_FILE
PRECISION_ENV = "TRADECAST_PRECISION"  # "int8" serves the int8 copies where exported
DEFAULT_THREADS = 1  # intra-op threads of a variant that threads.json does not name
logger = logging.getLogger(__name__)


def read_manifest(exported_dir: Path) -> dict[str, Path]:
    """Variant -> its version folder, as the manifest names them."""
    path = exported_dir / MANIFEST
    manifest = read_json(path)
    variants = manifest.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise ArtifactError(f"{path}: no variants listed (run `tradecast export` first)")
    folders = {}
    for variant, entry in variants.items():
        if not isinstance(entry, dict) or "path" not in entry:
            raise ArtifactError(f"{path}: entry for '{variant}' has no 'path'")
        folders[variant] = exported_dir / entry["path"]
    return folders


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
    (``tradecast bench threads``), else ``DEFAULT_THREADS``.
    """
    measured = read_threads(exported_dir) if intra_op_threads is None else {}
    precision = resolve_precision(precision)
    models = {}
    for variant, folder in read_manifest(exported_dir).items():
        threads = intra_op_threads or measured.get(variant, DEFAULT_THREADS)
        artifact = load_artifact(folder, threads, precision)
        if artifact.variant != variant:
            raise ArtifactError(
                f"{folder / 'metadata.json'}: variant '{artifact.variant}' but the manifest "
                f"lists it as '{variant}'"
            )
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
        stat = os.stat(exported_dir / MANIFEST)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
