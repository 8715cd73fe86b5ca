"""``python -m lendstream.model``: train and write an artifact, or emit synthetic applicants.

python -m lendstream.model train [--out DIR] [--seed N]
python -m lendstream.model synthetic N [--seed S] [--malformed-rate R] [--summary]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from lendstream import cli
from lendstream.model.artifact import default_model_root


def _train(args: argparse.Namespace) -> int:
    from lendstream.model import artifact  # noqa: PLC0415 - scikit-learn only for this command
    from lendstream.model.report import write_report  # noqa: PLC0415
    from lendstream.model.train import MODEL_NAME, TrainingConfig, train  # noqa: PLC0415

    config = TrainingConfig()
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    started = time.perf_counter()
    result = train(config=config)
    directory = artifact.save(
        result.pipeline,
        result.metadata,
        write_report=lambda report: write_report(result, report),
        root=args.out,
    )
    held_out = result.metadata["metrics"]["held_out"]
    bootstrap = result.metadata["metrics"]["auc_difference_bootstrap"]
    summary = {
        "version": result.version,
        "artifact": str(directory),
        "held_out_roc_auc": {name: round(entry["roc_auc"], 4) for name, entry in held_out.items()},
        "held_out_ks": round(held_out[MODEL_NAME]["ks"], 4),
        "held_out_brier": round(held_out[MODEL_NAME]["brier"], 5),
        "auc_difference_95ci": {
            name: [round(entry["ci_low"], 4), round(entry["ci_high"], 4)]
            for name, entry in bootstrap.items()
        },
        "fit_seconds": result.metadata["train_seconds"],
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from lendstream.model.synthetic import generate_labelled  # noqa: PLC0415

    started = time.perf_counter()
    malformed = 0
    write = sys.stdout.write
    for generated in generate_labelled(args.n, args.seed, args.malformed_rate):
        malformed += generated.malformed is not None
        if not args.summary:
            write(json.dumps(generated.record) + "\n")
    seconds = time.perf_counter() - started
    if args.summary:
        summary = {
            "records": args.n,
            "malformed": malformed,
            "seconds": round(seconds, 2),
            "records_per_second": round(args.n / seconds) if seconds else None,
        }
        print(json.dumps(summary))
    return 0


def add_arguments(root: argparse.ArgumentParser) -> None:
    """`lendstream model`'s arguments (lendstream.cli.model); each subcommand sets `run`."""
    commands = root.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train, evaluate, write a versioned artifact")
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"artifact root (default: $LENDSTREAM_MODEL_ROOT or {default_model_root()})",
    )
    train.add_argument("--seed", type=int, default=None, help="split and resampling seed")
    train.set_defaults(run=_train)
    synthetic = commands.add_parser("synthetic", help="synthetic raw applicants as JSON lines")
    synthetic.add_argument("n", type=int, help="how many applicants")
    synthetic.add_argument("--seed", type=int, default=1)
    synthetic.add_argument("--malformed-rate", type=float, default=0.0)
    synthetic.add_argument(
        "--summary", action="store_true", help="print only counts and the generation rate"
    )
    synthetic.set_defaults(run=_synthetic)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run_subcommand("model", argv)


if __name__ == "__main__":
    sys.exit(main())
