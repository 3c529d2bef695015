"""Season detection: the autocorrelation by one FFT (``data.prepared.detect_season``, O(n log n))
against the direct sum over every lag it replaced (O(n²)), on a noisy series of season 24.

    .venv/bin/python bench/season.py [--sizes 10000,100000,1000000] [--direct-up-to 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnnlab.data.prepared import _seasons, detect_season


def direct_season(values: np.ndarray) -> int:
    """The former detection: acf[k] = x[:n-k]·x[k:] for every lag k up to n/2, one dot each."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    x = x - x.mean()
    denominator = float(x @ x)
    max_lag = n // 2
    acf = np.array([float(x[: n - k] @ x[k:]) / denominator for k in range(max_lag + 1)])
    peaks = [k for k in range(2, max_lag) if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1] and acf[k] > 0.2]
    if not peaks:
        return 1
    highest = max(acf[k] for k in peaks)
    return next(k for k in peaks if acf[k] >= 0.9 * highest)


def series(n: int) -> np.ndarray:
    t = np.arange(n)
    return 10 + np.sin(2 * np.pi * t / 24) + 1e-6 * t + np.random.default_rng(1).normal(0, 0.1, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--direct-up-to", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{'values':>10}  {'fft s':>8}  {'direct s':>9}  season")
    for n in map(int, args.sizes.split(",")):
        x = series(n)
        _seasons.clear()
        start = time.perf_counter()
        season = detect_season(x)
        fft = time.perf_counter() - start
        start = time.perf_counter()
        detect_season(x)
        again = time.perf_counter() - start
        direct = ""
        if n <= args.direct_up_to:
            start = time.perf_counter()
            assert direct_season(x) == season
            direct = f"{time.perf_counter() - start:9.3f}"
        print(f"{n:>10}  {fft:8.3f}  {direct:>9}  {season}   (again, remembered: {again * 1000:.2f} ms)")


if __name__ == "__main__":
    main()
