"""The hdfs role's check that a restarted JournalNode took part in an edit-log roll
(`__hdfs_journal_segment_script`), run against a journal directory laid out as a JournalNode
lays it out, with the output `dfsadmin -rollEdits` prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROLE_VARS = Path(__file__).resolve().parents[2] / "ansible" / "roles" / "hdfs" / "vars" / "main.yml"
ROLLED_AT_18 = "Successfully rolled edit logs.\nNew segment starts at txid 18\n"


def segment_check(directory: Path, roll_output: str) -> subprocess.CompletedProcess[str]:
    script = yaml.safe_load(ROLE_VARS.read_text())["__hdfs_journal_segment_script"]
    return subprocess.run(
        ["python3", "-c", script, str(directory), roll_output],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    for name in ("VERSION", "seen_txid", "last-promised-epoch", "committed-txid"):
        (tmp_path / name).touch()
    (tmp_path / "edits_0000000000000000001-0000000000000000017").touch()
    return tmp_path


def test_a_journalnode_holding_the_rolled_segment_is_in_step(journal: Path) -> None:
    (journal / "edits_inprogress_0000000000000000018").touch()

    done = segment_check(journal, ROLLED_AT_18)

    assert (done.returncode, done.stdout.strip()) == (0, "newest segment 18, rolled at 18")


def test_a_segment_finalized_after_the_roll_counts_too(journal: Path) -> None:
    (journal / "edits_0000000000000000018-0000000000000000030").touch()
    (journal / "edits_inprogress_0000000000000000031").touch()

    assert segment_check(journal, ROLLED_AT_18).returncode == 0


def test_a_journalnode_still_on_the_segment_before_the_roll_is_waited_for(journal: Path) -> None:
    done = segment_check(journal, ROLLED_AT_18)

    assert (done.returncode, done.stdout.strip()) == (1, "newest segment 1, rolled at 18")


def test_an_output_without_the_roll_is_not_waited_for(journal: Path) -> None:
    done = segment_check(journal, "rollEdits: Access denied")

    assert done.returncode == 2
    assert "no new segment in the roll's output" in done.stdout
