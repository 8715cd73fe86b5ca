"""A stand-in cluster for the phased TLS rollout faults' unit tests (hbase-rpc-tls-rollout,
zookeeper-client-tls-rollout): every site.yml run moves each host one phase towards the wanted one,
3, or back towards 0 when the run turns the rollout's switch off, as the roles' rolling restarts
do; a stuck one never moves. Subclasses name the switch and serve the files the fault reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class PhasedHosts:
    SWITCH: ClassVar[str]

    phases: dict[str, int]
    stuck: bool = False
    tls: bool = True
    runs: list[tuple[str, ...]] = field(default_factory=list)

    def playbook(self, name: str, *extra: str, timeout_s: float = 0) -> str:
        self.runs.append((name, *extra))
        wanted = 0 if f"{self.SWITCH}=false" in extra else 3
        if not self.stuck:
            low, high = min(self.phases.values()), max(self.phases.values())
            step = low + 1 if wanted > low else max(high - 1, wanted)
            self.phases = dict.fromkeys(self.phases, step)
        return ""
