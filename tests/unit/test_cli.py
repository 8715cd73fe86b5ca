"""`lendstream COMMAND`: every subcommand is listed on one line and answers --help, and the
modules' own `python -m` entry points parse the same arguments."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lendstream import cli

VENV_BIN = Path(sys.executable).parent
# python -m entry point of each subcommand's module (lendstream.cli.<name> names it).
ENTRY_MODULES = {
    "artifacts": "lendstream.stack.artifacts.__main__",
    "attacks": "lendstream.attacks.__main__",
    "chaos": "lendstream.chaos.__main__",
    "cluster": "lendstream.cluster",
    "demo": "lendstream.demo",
    "dlq": "lendstream.dlq",
    "loader": "lendstream.services.applicant_api.loader",
    "model": "lendstream.model.__main__",
    "producer": "lendstream.services.producer.__main__",
    "reconcile": "lendstream.reconcile.cli",
    "stack": "lendstream.stack.__main__",
    "topology": "lendstream.storm.cli",
    "vagrant": "lendstream.vagrant.__main__",
    "vcluster": "lendstream.vcluster.__main__",
}


def listed_subcommands() -> dict[str, str]:
    """`lendstream --help`, run as the installed command: subcommand -> its one-line summary."""
    result = subprocess.run(
        [str(VENV_BIN / "lendstream"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    commands = result.stdout.split("COMMAND\n", 1)[1]
    lines = [line for line in commands.splitlines() if line.strip()]
    listed = {}
    for line in lines:
        name, summary = line.split(maxsplit=1)
        assert line.startswith(f"    {name} "), f"not a subcommand line: {line!r}"
        listed[name] = summary
    assert len(listed) == len(lines), f"a subcommand takes more than one line:\n{commands}"
    return listed


def test_help_lists_every_subcommand_module_with_its_summary() -> None:
    listed = listed_subcommands()
    assert listed == {module.NAME: module.SUMMARY for module in cli.subcommands()}
    assert {"stack", "reconcile", "vcluster", "topology", "artifacts", "demo"} <= set(listed)


@pytest.mark.parametrize("name", [module.NAME for module in cli.subcommands()])
def test_each_subcommand_answers_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: "), usage
    assert re.search(r"-h, --help", usage)


@pytest.mark.parametrize("name", sorted(ENTRY_MODULES))
def test_a_module_entry_point_parses_what_the_subcommand_parses(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main([name, "--help"])
    through_lendstream = capsys.readouterr().out
    with pytest.raises(SystemExit):
        importlib.import_module(ENTRY_MODULES[name]).main(["--help"])
    assert capsys.readouterr().out == through_lendstream
    assert through_lendstream.startswith(f"usage: lendstream {name} ")


def test_python_dash_m_still_runs_the_modules() -> None:
    for module in (
        "lendstream.storm",
        "lendstream.cluster",
        "lendstream.stack.artifacts",
        "lendstream.reconcile",
    ):
        result = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "usage: lendstream " in result.stdout


def test_an_unknown_subcommand_or_argument_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["no-such-command"], ["vcluster", "up", "--no-such-flag"], []):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
    errors = capsys.readouterr().err
    assert "no-such-command" in errors
    assert "--no-such-flag" in errors
