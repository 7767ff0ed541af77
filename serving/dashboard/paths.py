"""Where the dashboard's files live in the home folder, and the one way a name becomes a path.

Everything the browser names (a run, a backtest, a job) is a single folder name checked against
``SAFE_NAME`` and looked up below a fixed folder of the home, so no request reaches a file
outside the home whatever it sends (``..``, absolute paths, links out of the home).
"""

from __future__ import annotations

import re
from pathlib import Path

from contract.errors import UnknownSymbolError
from contract.home import PROJECT_ROOT, Home
from serving.errors import InputError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}$")
DIST_DIR = PROJECT_ROOT / "dashboard" / "dist"  # `npm run build` in dashboard/ writes it


def jobs_dir(home: Home) -> Path:  # jobs/<job-id>/: job.json, log.txt, uploads
    return home.root / "jobs"


def backtests_dir(home: Home) -> Path:  # backtests/<id>/: what `tradecast backtest --out` writes
    return home.root / "backtests"


def paper_dir(home: Home) -> Path:  # the paper portfolio's observations
    return home.state_dir / "paper"


def settings_path(home: Home) -> Path:  # the Settings page's saved values
    return home.state_dir / "dashboard" / "settings.json"


def checked_name(value: str, field: str) -> str:
    if ".." in value or not SAFE_NAME.match(value):
        raise InputError(field, f"{value!r} is not a plain name (letters, digits, _ . -)")
    return value


def child(parent: Path, name: str, field: str, what: str) -> Path:
    """``parent/name`` for a plain ``name`` that exists and resolves inside ``parent``."""
    path = parent / checked_name(name, field)
    if not path.exists() or not path.resolve().is_relative_to(parent.resolve()):
        raise UnknownSymbolError(f"{field}: no {what} named {name!r}")
    return path


def inside_home(home: Home, relative: str, field: str) -> Path:
    """A file the browser names relative to the home (a signal file); never outside it."""
    if relative.startswith("/") or "\\" in relative:
        raise InputError(field, "must be a path relative to the home folder")
    path = (home.root / relative).resolve()
    if not path.is_relative_to(home.root.resolve()):
        raise InputError(field, "must stay inside the home folder")
    if not path.is_file():
        raise InputError(field, f"no file {relative!r} in the home folder")
    return path
