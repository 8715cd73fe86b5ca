"""Every daemon's logs are bounded: each role's logging configuration, rendered with the roles'
defaults (render-logging.yml, the ci inventory), parses (XML well-formed, properties read) and
has only console appenders (the journal keeps those, within the common role's journald drop-in)
or files that roll at a size and keep a fixed number of backups (tests/log_bounds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from log_bounds import (
    APPENDER_READERS,
    JOURNALD_LIMITS,
    is_journald_size,
    journald_limits,
    log4j2_xml_appenders,
    unbounded,
)
from render_playbook import ANSIBLE_DIR, run_render_playbook

RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-logging.yml"
RENDER_TIMEOUT_S = 300
# Each role's logging configuration as render-logging.yml writes it, and what it writes to.
LOGGING_FILES = {
    "zookeeper/logback.xml": "console",
    "kafka/log4j2.xml": "console",
    "hdfs/log4j.properties": "console",  # YARN's daemons read the same file
    "hbase/log4j2.properties": "console",
    "storm/cluster.xml": "console",
    "storm/worker.xml": "files",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    render_dir = tmp_path_factory.mktemp("logging")
    for role in ("common", "zookeeper", "kafka", "hdfs", "hbase", "storm"):
        (render_dir / role).mkdir()
    run_render_playbook(
        RENDER_PLAYBOOK, {"render_dir": str(render_dir)}, timeout_s=RENDER_TIMEOUT_S, limit="m1"
    )
    return render_dir


@pytest.mark.parametrize("name", sorted(LOGGING_FILES))
def test_every_appender_is_the_console_or_a_capped_rolling_file(rendered: Path, name: str) -> None:
    text = (rendered / name).read_text()
    assert "Ansible managed" in text
    appenders = APPENDER_READERS[Path(name).name](text)
    assert appenders, f"{name}: no appender found"
    assert not unbounded(appenders), f"{name}: unbounded appenders {unbounded(appenders)}"
    kinds = {appender.kind for appender in appenders}
    if LOGGING_FILES[name] == "console":
        assert all("Console" in kind or "NullAppender" in kind for kind in kinds), kinds
    else:
        assert kinds == {"RollingFile"}, kinds


def test_worker_files_roll_at_the_storm_roles_size_and_backups(rendered: Path) -> None:
    defaults = yaml.safe_load((ANSIBLE_DIR / "roles/storm/defaults/main.yml").read_text())
    appenders = log4j2_xml_appenders((rendered / "storm/worker.xml").read_text())
    assert sorted(appender.name for appender in appenders) == ["A1", "STDERR", "STDOUT"]
    text = (rendered / "storm/worker.xml").read_text()
    size = defaults["storm_worker_log_max_file_size"]
    assert text.count(f'<SizeBasedTriggeringPolicy size="{size}"/>') == 3
    main_backups = defaults["storm_worker_log_max_backups"]
    stdio_backups = defaults["storm_worker_stdio_log_max_backups"]
    assert text.count(f'<DefaultRolloverStrategy max="{main_backups}"/>') == 1
    assert text.count(f'<DefaultRolloverStrategy max="{stdio_backups}"/>') == 2


def test_journald_drop_in_caps_the_journal_with_the_common_roles_sizes(rendered: Path) -> None:
    defaults = yaml.safe_load((ANSIBLE_DIR / "roles/common/defaults/main.yml").read_text())
    text = (rendered / "common/journald.conf").read_text()
    assert text.startswith("#\n# Ansible managed")
    limits = journald_limits(text)
    assert limits == {
        "SystemMaxUse": str(defaults["common_journald_system_max_use"]),
        "SystemMaxFileSize": str(defaults["common_journald_system_max_file_size"]),
        "RuntimeMaxUse": str(defaults["common_journald_runtime_max_use"]),
    }
    assert all(is_journald_size(limits[key]) for key in JOURNALD_LIMITS), limits
