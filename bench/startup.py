"""Whole-process timings of the command line (``make bench``): what a user waits for.

Rows (each a fresh process; wall time from start to exit, median of the repeats):

  python -c pass, import numba, import torch: the floor and the two heavy imports;
  the seed program (bench/seed_program.py: torch eager, 20,000 per-sample SGD steps);
  ``rnnlab train --engine fast`` on the seed preset, 20,000 steps: the first run in this venv
  (after ``make run``, whose ``rnnlab compile`` filled numba's cache) next to the later runs;
  ``rnnlab compile`` with an empty cache (``NUMBA_CACHE_DIR`` a new directory): a cold compile.

``--quick`` runs fewer repeats and leaves out the cold compile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no cold compile")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 5
    python, rnnlab = sys.executable, str(BIN / "rnnlab")
    rows = []

    def row(what: str, times: list[float]) -> float:
        median = statistics.median(times)
        rows.append((what, median, times))
        print(f"  {median:8.3f} s  {what}", file=sys.stderr, flush=True)
        return median

    row("python -c pass", [timed([python, "-c", "pass"]) for _ in range(repeats)])
    row("python -c 'import numba'", [timed([python, "-c", "import numba"]) for _ in range(repeats)])
    row("python -c 'import torch'", [timed([python, "-c", "import torch"]) for _ in range(repeats)])
    seed = row("the seed program (torch eager, 20,000 steps)",
               [timed([python, str(HERE / "seed_program.py"), str(s)]) for s in range(max(1, repeats // 2))])
    with tempfile.TemporaryDirectory() as runs:
        train = [rnnlab, "train", "--engine", "fast", "--quiet", "--runs-dir", runs]
        first = row("rnnlab train --engine fast (seed preset): the first run in this environment",
                    [timed(train + ["--seed", "0"])])
        later = row("rnnlab train --engine fast (seed preset): later runs",
                    [timed(train + ["--seed", str(s)]) for s in range(1, repeats + 1)])
    cold = None
    if not args.quick:
        with tempfile.TemporaryDirectory() as cache:
            cold = row("rnnlab compile with an empty compile cache (cold compile)",
                       [timed([rnnlab, "compile"], env={"NUMBA_CACHE_DIR": cache})])

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("| whole process | wall time (median) | runs |")
    print("|---|---:|---|")
    for what, median, times in rows:
        print(f"| {what} | {median:.3f} s | {', '.join(f'{t:.2f}' for t in times)} |")
    print()
    print(f"rnnlab train --engine fast: {later:.3f} s warm (target <= 1.0 s), first run {first:.3f} s; "
          f"the seed program takes {seed / later:.1f}× as long (target >= 15×)"
          + (f"; cold compile {cold:.1f} s (target <= 20 s)" if cold is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
