"""The steady load: synthetic applicants inserted into the cluster's MariaDB at a fixed rate by
the project's loader (playbooks/load-applicants.yml with load_applicants_rate), in the background.

Each fault gets its own seed, so its applicants' member ids (``SYN-<seed>-<n>``) tell its rows
apart in HBase; the producer publishes them as it polls the applicant API.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass

from lendstream.chaos.cluster import ANSIBLE_DIR, ChaosCluster, ChaosError
from lendstream.vcluster.paths import inventory_path

MALFORMED_RATE = 0.02
# How long the loader may take to end on SIGTERM before it is killed.
STOP_TIMEOUT_S = 30


@dataclass
class SteadyLoad:
    seed: int
    count: int
    rate_per_s: float
    process: subprocess.Popen[str]

    @classmethod
    def start(
        cls,
        cluster: ChaosCluster,
        seed: int,
        count: int,
        rate_per_s: float,
        *,
        malformed_rate: float = MALFORMED_RATE,
    ) -> SteadyLoad:
        argv = [
            "ansible-playbook",
            *("-i", str(inventory_path(cluster.layout.name))),
            "playbooks/load-applicants.yml",
            *("-e", "load_applicants_real=false"),
            *("-e", f"load_applicants_synthetic={count}"),
            *("-e", f"load_applicants_seed={seed}"),
            *("-e", f"load_applicants_malformed_rate={malformed_rate}"),
            *("-e", f"load_applicants_rate={rate_per_s}"),
        ]
        process = subprocess.Popen(
            argv,
            cwd=ANSIBLE_DIR,
            env=cluster.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        cluster.logs.append(f"$ {shlex.join(argv)} (in the background)")
        return cls(seed=seed, count=count, rate_per_s=rate_per_s, process=process)

    @property
    def member_prefix(self) -> str:
        return f"SYN-{self.seed}-"

    def stop(self) -> None:
        """Ends the loader if it still runs (a fault run that stops short must not leave it
        loading behind the next one)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait(self, cluster: ChaosCluster, timeout_s: float) -> int:
        """Wait for the loader to finish; returns the applicants table's row count after it."""
        try:
            output, _ = self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            output, _ = self.process.communicate()
            raise ChaosError(f"the loader did not finish in {timeout_s:.0f} s") from error
        cluster.logs.append(output)
        rows = re.findall(r'"table_rows": (\d+)', output)
        if self.process.returncode != 0 or not rows:
            raise ChaosError(f"the loader failed:\n{output[-3000:]}")
        return int(rows[-1])
