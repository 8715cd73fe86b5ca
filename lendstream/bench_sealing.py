"""What sealing the topology's tuples costs per applicant (lendstream.pipeline.sealing): a
microbenchmark that prints figures, to set next to the topology's own CPU per applicant.

    python -m lendstream.bench_sealing [--applicants 20000] [--batch 500 20] [--repeats 5]

The bench's synthetic applicants (valid ones only) are triaged and packed as the clean bolt packs
them, in batches of ``--batch``; each batch's packed applicants and packed outcomes are then
sealed and opened with a random key, as one hop does. The CPU time (``time.process_time``,
this process) of each operation, the best of ``--repeats`` passes, is divided by the number of
applicants. On a cluster a batch is sealed at four hops (spout → clean the records, clean →
decide, decide → score, score → save the applicants, the last two with the outcomes too) and
opened as often: the "per applicant, whole topology" line adds them up that way.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable, Sequence

from lendstream.model.synthetic import generate
from lendstream.pipeline.flow import (
    Outcome,
    SourceRecord,
    pack,
    pack_outcomes_text,
    pack_records,
    triage_all,
)
from lendstream.pipeline.sealing import Sealer, context

# The topology's own CPU per 1,000 applicants (docs/topology.md, "CPU per applicant").
TOPOLOGY_CPU_S_PER_1000 = 0.25


def best_cpu_s(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def batches_of(count: int, size: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Packed records, packed applicants and packed outcomes, batch by batch."""
    records = [
        SourceRecord("lendstream.applicants", 0, offset, 1_700_000_000_000, json.dumps(raw))
        for offset, raw in enumerate(generate(count, seed, 0.0))
    ]
    packed_records, packed, outcomes = [], [], []
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        applicants, _ = triage_all(chunk)
        packed_records.append(pack_records(chunk))
        packed.append(pack(applicants))
        decided: list[Outcome | None] = [
            Outcome("approve", None, None, (i % 997) / 997, "v1") for i in range(len(applicants))
        ]
        outcomes.append(pack_outcomes_text(decided))
    return packed_records, packed, outcomes


def measure(texts: Sequence[str], applicants: int, repeats: int) -> dict[str, float]:
    """µs of CPU per applicant to seal, open and route ``texts`` (one per batch)."""
    sealer = Sealer(secrets.token_bytes(32))
    where = context("score", "applicants", "r")
    sealed = [sealer.seal(text, where) for text in texts]
    to_us = 1e6 / applicants
    return {
        "seal": best_cpu_s(lambda: [sealer.seal(t, where) for t in texts], repeats) * to_us,
        "open": best_cpu_s(lambda: [sealer.open(s, where) for s in sealed], repeats) * to_us,
        "route": best_cpu_s(lambda: [sealer.route(t) for t in texts], repeats) * to_us,
        "bytes": sum(map(len, sealed)) / applicants,
        "plain bytes": sum(map(len, texts)) / applicants,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lendstream.bench_sealing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--applicants", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[500, 20])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=41)
    args = parser.parse_args(argv)
    for size in args.batch:
        packed_records, packed, outcomes = batches_of(args.applicants, size, args.seed)
        count = args.applicants
        figures = {
            "records": measure(packed_records, count, args.repeats),
            "applicants": measure(packed, count, args.repeats),
            "outcomes": measure(outcomes, count, args.repeats),
        }
        print(f"batches of {size} ({len(packed)} batches, {count} applicants), µs CPU/applicant:")
        for name, row in figures.items():
            print(
                f"  {name:<10} seal {row['seal']:6.2f}  open {row['open']:6.2f}  "
                f"route {row['route']:5.2f}  ({row['plain bytes']:.0f} → {row['bytes']:.0f} "
                "characters per applicant)"
            )
        # Four hops: records once, applicants three times, outcomes twice; each sealed and opened;
        # two routes (the clean bolt's, and the score bolt's when it re-packs: counted once).
        records, people, decided = figures["records"], figures["applicants"], figures["outcomes"]
        total_us = (
            records["seal"]
            + records["open"]
            + 3 * (people["seal"] + people["open"])
            + 2 * (decided["seal"] + decided["open"])
            + people["route"]
        )
        share = total_us / 1e6 * 1000 / TOPOLOGY_CPU_S_PER_1000
        print(
            f"  per applicant, whole topology: {total_us:.2f} µs = "
            f"{total_us / 1000:.4f} CPU-s per 1,000 applicants, "
            f"{share:.1%} of the topology's {TOPOLOGY_CPU_S_PER_1000} CPU-s per 1,000"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
