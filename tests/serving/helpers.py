"""Test helpers: the real service as a subprocess on 127.0.0.1, and writable scratch homes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from contract.home import Home, resolve_home

API_KEY = "test-key-5f1c"  # the session server's TRADECAST_API_KEY


def make_home(root: Path, exported_home: Home, sample_home: Home, variants: tuple[str, ...] = ()
              ) -> Home:
    """A writable home with the sample bars and copies of the exported models (all of them, or
    just ``variants``, the manifest saying so)."""
    home = resolve_home(root)
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    kept = {v: e for v, e in manifest["variants"].items() if not variants or v in variants}
    for entry in kept.values():
        folder = entry["path"]
        shutil.copytree(exported_home.exported_dir / folder, home.exported_dir / folder)
    (home.exported_dir / "manifest.json").write_text(json.dumps({**manifest, "variants": kept}))
    return home


