"""``python -m lendstream.reconcile`` after a real topology run: exit 0 and a JSON summary that
agrees with the run; exit 1 once HBase is tampered with (a row deleted, a cell altered); a row
the topic does not explain is reported and still exits 0.

Marked stack and slow: Kafka, HBase and Storm of the single-machine stack, and a risk service.
The command runs as a subprocess with nothing but its flags, as an operator runs it on a node.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import happybase
import pytest
from pipeline_run import PipelineRun, Produced, expected_outcomes, isolated_run, reconcile

from lendstream.model.synthetic import generate
from lendstream.pipeline.hbase_writer import member_id_of
from lendstream.pipeline.scoring import RiskServiceSettings
from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.slow]

APPLICANTS = 1_000
MALFORMED_RATE = 0.05
UNPARSEABLE = [b"not json at all", b"\xff\xfe\x00garbage"]
DRAIN_TIMEOUT_S = 420.0
COMMAND_TIMEOUT_S = 300.0


def reconcile_command(run: PipelineRun, risk: RiskServiceSettings) -> list[str]:
    conf = run.conf
    return [
        sys.executable, "-m", "lendstream.reconcile",
        "--bootstrap", conf.kafka_bootstrap_servers,
        "--topic", conf.kafka_topic,
        "--dead-letter-topic", conf.kafka_dead_letter_topic,
        "--group", conf.kafka_group_id,
        "--hbase-hosts", conf.hbase_hosts,
        "--hbase-port", str(conf.hbase_port),
        "--table", conf.hbase_table,
        "--risk-url", risk.base_url,
        "--risk-token-file", str(risk.token_file),
        "--drain-timeout-s", "120",
        "--settle-s", "1",
        "--json",
    ]  # fmt: skip


def run_command(command: list[str]) -> tuple[int, dict[str, Any]]:
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    print(f"{result.stderr}exit {result.returncode} after {time.monotonic() - started:.1f} s")
    assert result.returncode in (0, 1), f"could not reconcile: {result.stderr}"
    return result.returncode, json.loads(result.stdout)


def test_the_command_reconciles_a_real_run_and_catches_tampering(
    e2e_stack: StackEndpoints, e2e_risk_service: RiskServiceSettings
) -> None:
    with isolated_run(e2e_stack, e2e_risk_service) as run:
        conf = run.conf  # the run's own topics, group and table
        produced = Produced()
        run.produce([*generate(APPLICANTS, 31, MALFORMED_RATE), *UNPARSEABLE], produced)
        run.deploy()
        run.wait_until_all_committed(DRAIN_TIMEOUT_S)
        run.kill_topology()  # drained: nothing more to write; the checks below need no worker
        counts = reconcile(
            run, produced, expected_outcomes(produced, conf.kafka_topic, e2e_risk_service)
        )
        command = reconcile_command(run, e2e_risk_service)

        status, summary = run_command(command)
        assert (status, summary["reconciled"], summary["differences"]) == (0, True, 0), summary
        assert summary["published"] == len(produced.values) == APPLICANTS + len(UNPARSEABLE)
        assert summary["stored"] == counts["stored"]
        assert summary["dead_lettered"] == counts["dead_lettered"] >= len(UNPARSEABLE)
        assert summary["stored"] + summary["dead_lettered"] == summary["published"]
        assert summary["decisions"] == {
            k: v for k, v in counts.items() if k in {"approve", "review", "decline", "rejected"}
        }
        assert summary["extra_rows"] == 0

        connection = happybase.Connection(conf.hbase_host, conf.hbase_port, timeout=60_000)
        table = connection.table(conf.hbase_table)
        try:
            (deleted_key, deleted_cells), (altered_key, altered_cells) = list(table.scan(limit=2))
            table.delete(deleted_key)
            status, summary = run_command(command)
            assert (status, summary["reconciled"]) == (1, False), summary
            assert summary["stored"] == counts["stored"] - 1
            missing = f"row {member_id_of(deleted_key)} missing"
            assert any(d.startswith(missing) for d in summary["first_differences"]), summary
            table.put(deleted_key, deleted_cells)

            decision = altered_cells[b"result:decision"]
            table.put(
                altered_key,
                {b"result:decision": b"approve" if decision != b"approve" else b"decline"},
            )
            status, summary = run_command(command)
            assert (status, summary["differences"]) == (1, 1), summary
            (difference,) = summary["first_differences"]
            assert difference.startswith(f"row {member_id_of(altered_key)}: result:decision is")
            table.put(altered_key, altered_cells)

            table.put(b"not-from-this-topic", {b"result:decision": b"approve"})
            status, summary = run_command(command)
            assert (status, summary["extra_rows"]) == (0, 1), summary
            assert summary["extra_row_keys"] == ["not-from-this-topic"]
        finally:
            connection.close()
    print(f"\nreconcile command on a real run: {summary}")
