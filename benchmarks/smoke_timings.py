"""How long each subcommand's `--smoke` run takes, per backend.

Every `keras-recipes SUBCOMMAND --smoke` runs in a fresh interpreter (as a
user runs it, Keras's import included), into a new folder, `--repeats`
times in a shuffled order per repeat, so that each command sees the same
load; the report gives the median and the min-max of the wall times, and of
the import of Keras alone (`python -c "import keras"`) as the floor.

Usage:
    python benchmarks/smoke_timings.py --repeats 3 --backends tensorflow jax torch
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "lr-find", "diagnose", "schedule", "tune")


def wall_time(backend, command, folder):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if command == "import keras":
        argv = [sys.executable, "-c", "import keras"]
    else:
        argv = [sys.executable, "-m", "keras_recipes.cli", command, "--smoke",
                "--log-dir", str(folder)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow"])
    args = parser.parse_args()
    rng = random.Random(0)
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            jobs = [(b, c) for b in args.backends for c in ("import keras", *COMMANDS)]
            rng.shuffle(jobs)
            for backend, command in jobs:
                folder = Path(scratch) / f"{backend}-{command}-{repeat}"
                seconds = wall_time(backend, command, folder)
                times.setdefault((backend, command), []).append(seconds)
                line = f"{backend:10s} {command:12s} {seconds:6.1f} s"
                print(f"repeat {repeat + 1}: {line}", flush=True)
    print(f"\n| command | {' | '.join(args.backends)} |")
    print("|---|" + "---|" * len(args.backends))
    for command in ("import keras", *COMMANDS):
        cells = []
        for backend in args.backends:
            values = times[(backend, command)]
            spread = f"{min(values):.1f}-{max(values):.1f}"
            cells.append(f"{statistics.median(values):.1f} s ({spread})")
        print(f"| `{command}` | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
