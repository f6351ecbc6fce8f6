"""How long `keras-recipes --help` and friends take, against another checkout.

Each command runs in a fresh interpreter (`python -m keras_recipes.cli ...`)
from and with `PYTHONPATH` set to a checkout: this one, and `--baseline`, a checkout
of the code to compare with (e.g. `git worktree add /tmp/base <commit>`).
The two are interleaved, in a shuffled order per repeat, so both see the same
load; the report gives the median and the min-max of the wall times and the
ratio of the medians.

Usage:
    python benchmarks/cli_startup.py --baseline /tmp/base --repeats 7
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (
    ("--help",),
    ("--version",),
    ("train", "--help"),
    ("lr-find", "--help"),
    ("tune", "--help"),
)


def wall_time(checkout, command):
    env = {**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "keras_recipes.cli", *command],
        env=env,
        cwd=checkout,  # `-m` puts the working folder first on the path.
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    checkouts = {"this": here, "baseline": args.baseline.resolve()}
    times = {(name, c): [] for name in checkouts for c in COMMANDS}
    rng = random.Random(0)
    for _ in range(args.repeats):
        runs = [(name, c) for name in checkouts for c in COMMANDS]
        rng.shuffle(runs)
        for name, command in runs:
            times[name, command].append(wall_time(checkouts[name], command))
    print(f"{args.repeats} repeats; median (min-max) seconds")
    print("| command | this | baseline | ratio |")
    print("|---|---:|---:|---:|")
    for command in COMMANDS:
        cells = []
        for name in checkouts:
            t = times[name, command]
            cells.append(f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f})")
        ratio = statistics.median(times["this", command]) / statistics.median(
            times["baseline", command]
        )
        print(f"| `keras-recipes {' '.join(command)}` | {cells[0]} | {cells[1]} | "
              f"{ratio:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
