"""`tradecast data` through the real entry point, on scratch homes.

Most cases call ``tradecast.cli.main`` in-process (the function the console script runs, with
its error handling); one runs ``python -m tradecast`` in a subprocess, as a user would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marketdata.store import BarStore
from tradecast.cli import main

GOOD = (
    "Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,200\n"
)
MORE = GOOD + "2020-01-06,11,12,10.5,11.5,300\n"


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``tradecast ARGS...``; returns (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tradecast", *map(str, args)])
        with pytest.raises(SystemExit) as ended:
            main()
        captured = capsys.readouterr()
        return ended.value.code or 0, captured.out, captured.err

    return run


def store_bytes(home: Path) -> dict[str, bytes]:
    files = sorted(path for path in home.rglob("*") if path.is_file())
    return {str(path.relative_to(home)): path.read_bytes() for path in files}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_import_sample_as_a_user_runs_it(tmp_path):
    home = tmp_path / "home"
    command = [sys.executable, "-m", "tradecast", "data", "import-sample", "--home", str(home)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "AAPL 1d: 3379 new bars" in done.stdout and "SPX 1min: 1563 new bars" in done.stdout
    assert "importing sample" in done.stderr  # the progress bar
    assert BarStore(home / "data" / "bars").symbols("1d") == [
        "AAPL", "GOOG", "INTC", "IXIC", "SPX", "SPY", "VIX"]


def test_list_and_check_the_sample(cli, sample_home):
    status, out, _ = cli("data", "list", "--home", sample_home.root)
    assert status == 0
    assert "AAPL" in out and "3379" in out and "1min" in out
    status, out, _ = cli("data", "check", "AAPL", "VIX", "--home", sample_home.root)
    assert status == 0
    assert "AAPL 1d: 3379 bars, 2004-08-19 .. 2018-01-19, calendar XNYS: ok" in out
    assert "volume is 0 on every bar" in out


def test_check_unknown_symbol_is_one_line_and_status_1(cli, sample_home):
    status, out, err = cli("data", "check", "MSFT", "--home", sample_home.root)
    assert status == 1 and out == ""
    assert err.startswith("error: no bars stored for MSFT") and err.count("\n") == 1


def test_import_then_import_more_appends_only_new_bars(cli, tmp_path):
    home = tmp_path / "home"
    path = write(tmp_path, "acme.csv", GOOD)
    assert cli("data", "import", path, "--home", home)[1] == f"ACME 1d: 2 new bars from {path}\n"
    again = write(tmp_path, "acme2.csv", MORE)
    status, out, _ = cli("data", "import", again, "--symbol", "acme", "--home", home)
    assert status == 0 and out.startswith("ACME 1d: 1 new bars")
    assert len(BarStore(home / "data" / "bars").read("ACME")) == 3


BAD_FILES = {
    "missing-column": ("Date,Open,High,Low,Close\n2020-01-07,1,2,0.5,1.5\n",
                       "missing column 'volume'"),
    "bad-date": (GOOD + "2020-02-30,11,12,10.5,11.5,300\n",
                 "line 4: cannot read the date '2020-02-30'"),
    "text-price": (GOOD + "2020-01-07,11,12,ten,11.5,300\n", "line 4: low 'ten' is not a number"),
    "empty": ("", "empty file"),
    "negative": (GOOD + "2020-01-07,11,12,10.5,-11.5,300\n", "line 4: close is -11.5"),
    "conflicting-duplicate": (GOOD + "2020-01-03,10.5,12,10,11.25,200\n",
                              "line 4: timestamp 2020-01-03 00:00:00+00:00 repeats line 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_one_line_status_1_and_the_store_keeps_its_bytes(cli, tmp_path, case):
    home = tmp_path / "home"
    cli("data", "import", write(tmp_path, "acme.csv", GOOD), "--home", home)
    before = store_bytes(home)
    text, problem = BAD_FILES[case]
    bad = write(tmp_path, "bad.csv", text)
    status, out, err = cli("data", "import", bad, "--symbol", "ACME", "--home", home)
    assert status == 1 and out == ""
    assert err.startswith(f"error: {bad}") and problem in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert store_bytes(home) == before


def test_a_stored_bar_contradicted_by_a_new_file_is_refused(cli, tmp_path):
    home = tmp_path / "home"
    cli("data", "import", write(tmp_path, "acme.csv", GOOD), "--home", home)
    before = store_bytes(home)
    changed = write(tmp_path, "changed.csv", GOOD.replace("10.5,100", "10.6,100"))
    status, _, err = cli("data", "import", changed, "--symbol", "ACME", "--home", home)
    assert status == 1 and err.startswith("error: ACME 1d: the new bar at 2020-01-02")
    assert "has close 10.6 but the stored one has 10.5" in err
    assert store_bytes(home) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "alpaca", "--symbols", "AAPL"], "set APCA_API_KEY_ID and APCA_API_SEC"),
        (["--source", "quandl", "--symbols", "AAPL"], "unknown data source 'quandl'"),
        (["--source", "yfinance"], "give either --symbols or --universe"),
        (["--source", "yfinance", "--universe", "nasdaq"], "no universe 'nasdaq'"),
        (["--source", "binance", "--symbols", "BTC/USDT", "--timeframe", "2h"],
         "unknown timeframe '2h'"),
    ],
)
def test_fetch_refuses_bad_requests_before_any_download(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    status, _, err = cli("data", "fetch", *args, "--start", "2024-01-02", "--home", tmp_path)
    assert status == 1 and message in err and err.count("\n") == 1


def test_fetch_with_a_bad_start_date(cli, tmp_path):
    status, _, err = cli("data", "fetch", "--source", "yfinance", "--symbols", "SPY",
                         "--start", "yesterday-ish", "--home", tmp_path)
    assert status == 1 and "--start 'yesterday-ish' is not a date or time" in err


def test_every_command_takes_home() -> None:
    """README's promise: every sub-command accepts --home (scripts and jobs always pass it)."""
    import typer.main

    from tradecast.cli import app

    def leaves(command, path: tuple[str, ...]):
        if hasattr(command, "commands"):  # a group (typer ships its own click classes)
            for name, sub in command.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield " ".join(path), {option for p in command.params for option in p.opts}

    found = dict(leaves(typer.main.get_command(app), ()))
    assert {"bench latency", "bench features", "features list", "serve"} <= set(found)
    assert [name for name, options in found.items() if "--home" not in options] == []
