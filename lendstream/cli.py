"""`lendstream COMMAND …`: one entry point that hands each command to the module that owns it."""

from __future__ import annotations

import runpy
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("lendstream.demo", "run the pipeline end to end on the local stack"),
    "stack": ("lendstream.stack", "start, stop and check the single-machine stack"),
    "artifacts": ("lendstream.stack.artifacts", "build and verify the JVM service bundles"),
    "topology": ("lendstream.storm", "build and submit the Storm topology"),
    "model": ("lendstream.model", "train and evaluate the risk model"),
    "bench": ("lendstream.bench", "benchmark the baseline loop against the topology"),
    "vcluster": ("lendstream.vcluster", "boot and tear down the simulated cluster"),
    "loader": ("lendstream.services.applicant_api.loader", "load applicants into MySQL"),
    "producer": ("lendstream.services.producer", "publish applicants to Kafka"),
    "secrets": ("lendstream.secrets", "generate a deployment's secrets into Ansible Vault"),
    "dlq": ("lendstream.dlq", "list, inspect and re-drive dead letters"),
    "chaos": ("lendstream.chaos", "the fault suite under load on a simulated cluster"),
}


def usage() -> str:
    lines = ["usage: lendstream COMMAND [ARGS…]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return
    command, *rest = args
    if command not in COMMANDS:
        sys.exit(f"lendstream: unknown command {command!r}\n\n{usage()}")
    module, _ = COMMANDS[command]
    sys.argv = [f"lendstream {command}", *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
