"""The alert rules, as the prometheus role renders them: valid for promtool, and each rules file's
unit test (tests/monitoring/rules/<concern>_test.yml) makes every one of its alerts fire and not
fire, `for:` windows included."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from monitoring_files import RenderedMonitoring, debian_tool

RULE_TESTS_DIR = Path(__file__).resolve().parent / "rules"
RULE_TESTS = sorted(RULE_TESTS_DIR.glob("*_test.yml"))
TOOL_TIMEOUT_S = 120


def _concern(test_file: Path) -> str:
    return test_file.name.removesuffix("_test.yml")


def _alert_names(rules_file: Path) -> set[str]:
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_rules_file_has_its_unit_test(rendered_monitoring: RenderedMonitoring) -> None:
    rendered = sorted(path.stem for path in rendered_monitoring.rules_dir.glob("*.yml"))
    assert rendered == sorted(_concern(path) for path in RULE_TESTS)
    assert len(rendered) == 9


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=_concern)
def test_each_rules_file_is_one_group_named_after_it(
    test_file: Path, rendered_monitoring: RenderedMonitoring
) -> None:
    """The prometheus role's health gate expects one loaded group per rules file, by its name."""
    rules_file = rendered_monitoring.rules_dir / f"{_concern(test_file)}.yml"
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    assert [group["name"] for group in groups] == [_concern(test_file)]


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=_concern)
def test_promtool_checks_the_rules_file(
    test_file: Path, rendered_monitoring: RenderedMonitoring
) -> None:
    rules_file = rendered_monitoring.rules_dir / f"{_concern(test_file)}.yml"
    result = subprocess.run(
        [debian_tool("promtool"), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=_concern)
def test_every_alert_fires_and_stays_silent_in_the_unit_test(
    test_file: Path, rendered_monitoring: RenderedMonitoring
) -> None:
    """A rule nobody makes fire (or keeps silent) is untested: each alert has both in its test."""
    names = _alert_names(rendered_monitoring.rules_dir / f"{_concern(test_file)}.yml")
    cases = [
        case
        for test in yaml.safe_load(test_file.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert names
    assert names <= fired, f"alerts never expected to fire: {sorted(names - fired)}"
    assert names <= silent, f"alerts never expected to stay silent: {sorted(names - silent)}"


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=_concern)
def test_promtool_unit_test_passes(
    test_file: Path, rendered_monitoring: RenderedMonitoring, tmp_path: Path
) -> None:
    """promtool test rules on the rendered rules file, with the test file beside it."""
    rules_file = rendered_monitoring.rules_dir / f"{_concern(test_file)}.yml"
    shutil.copy(rules_file, tmp_path / rules_file.name)
    shutil.copy(test_file, tmp_path / test_file.name)
    result = subprocess.run(
        [debian_tool("promtool"), "test", "rules", test_file.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
