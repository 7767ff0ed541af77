"""Starting the service from the command line: `tradecast serve` becomes `bentoml serve`."""

from __future__ import annotations

import os
import sys

from features.home import PROJECT_ROOT, resolve_home
from serving.examples import curl_example
from serving.registry import read_manifest


def exec_server(home: str | os.PathLike[str] | None, host: str, port: int) -> None:
    """Check the home, print a curl example, then replace this process with `bentoml serve`.

    Replacing (not wrapping) the process means a SIGTERM or Ctrl-C reaches BentoML directly, so
    its shutdown hook saves the live state.
    """
    resolved = resolve_home(home)
    read_manifest(resolved.exported_dir)  # fails now, with a clear message, if nothing is exported
    example = curl_example(resolved, f"http://{host}:{port}")
    print(f"serving {resolved.exported_dir} on http://{host}:{port} (docs at /)", flush=True)
    if example:
        print(f"try:\n  {example}", flush=True)
    os.environ["TRADECAST_HOME"] = str(resolved.root)
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:TradecastService",
        "--host", host, "--port", str(port), "--working-dir", str(PROJECT_ROOT),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)

