"""The serving image carries neither torch nor the training code."""

from __future__ import annotations

import subprocess
import sys

from contract.home import PROJECT_ROOT


def test_serving_imports_no_torch_and_no_training() -> None:
    probe = (
        "import sys, serving.service, serving.batch, serving.launch, tradecast.commands.serve\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, check=True)
    assert result.stdout.strip() == ""
