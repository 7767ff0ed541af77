"""The home folder: where tradecast reads and writes everything it owns.

``--home DIR`` wins, then ``TRADECAST_HOME``, then the project folder (the checkout this package
lives in), so a test or a user can point every command at a scratch folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA_DIR = PROJECT_ROOT / "data" / "sample"
CONFIG_DIR = PROJECT_ROOT / "configs"


@dataclass(frozen=True)
class Home:
    root: Path  # everything below is derived from it

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def bars_dir(self) -> Path:  # the Parquet bar store: bars/<timeframe>/<SYMBOL>.parquet
        return self.data_dir / "bars"

    @property
    def state_dir(self) -> Path:  # live serving state (feature engine snapshots)
        return self.data_dir / "state"

    def server_dir(self, port: int) -> Path:  # BentoML's own files of the server on this port
        return self.state_dir / "servers" / str(port)

    @property
    def checkpoints_dir(self) -> Path:  # checkpoints/<variant>/<run-id>/
        return self.root / "checkpoints"

    @property
    def exported_dir(self) -> Path:  # exported_models/<variant>/<version>/ and manifest.json
        return self.root / "exported_models"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Home:
    """Return the home folder from the argument, ``TRADECAST_HOME`` or the project folder."""
    chosen = home if home is not None else os.environ.get("TRADECAST_HOME") or PROJECT_ROOT
    root = Path(chosen).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return Home(root)
