#!/usr/bin/env python3
"""The Python package's figures (issue 11): tessera.segmentation.slic against
skimage.segmentation.slic on BSDS500 val, thread scaling, and the binding's own cost.

Run from the checkout with the test environment (scripts/test creates it):

    .venv/bin/python scripts/bench-python.py [--images ../shared/data/bsds500/val/images]

Prints one table; timings are wall-clock, so run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

# One core means one core for both sides: without this, OpenBLAS (loaded by numpy and scipy,
# which scikit-image imports) starts a thread per core that spins after each matrix product
# (scikit-image's colour conversion), taking the core the other side's thread runs on.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import tessera  # noqa: E402
from tessera import _tessera  # noqa: E402
from tessera import segmentation as ts  # noqa: E402

#: Interleaved (drop-in, library call) pairs the binding's cost is the median of: enough
#: that the median of differences of a few percent settles on a shared machine.
BINDING_PAIRS = 101


def load_images(folder: Path, limit: int) -> list[np.ndarray]:
    from skimage import io

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return [np.asarray(io.imread(p))[..., :3] for p in paths[:limit]]


def best_of(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def speedup(images, k: int, repeat: int) -> None:
    import skimage.segmentation as sk

    ratios, ours, theirs = [], [], []
    for img in images:
        a = best_of(lambda img=img: ts.slic(img, n_segments=k), repeat)
        b = best_of(lambda img=img: sk.slic(img, n_segments=k), repeat)
        ours.append(a)
        theirs.append(b)
        ratios.append(b / a)
    print(f"images                              {len(images)}")
    print(f"tessera.segmentation.slic median    {statistics.median(ours) * 1e3:8.2f} ms")
    print(f"skimage.segmentation.slic median    {statistics.median(theirs) * 1e3:8.2f} ms")
    print(f"speed-up, median per image          {statistics.median(ratios):8.2f}x  (asked: 15x)")


def threads(images, k: int) -> None:
    def run(chunk):
        for img in chunk:
            ts.slic(img, n_segments=k)

    t = time.perf_counter()
    run(images)
    one = time.perf_counter() - t
    halves = [images[0::2], images[1::2]]
    workers = [threading.Thread(target=run, args=(h,)) for h in halves]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    two = time.perf_counter() - t
    print(f"one Python thread                   {len(images) / one:8.2f} images/s")
    print(f"two Python threads                  {len(images) / two:8.2f} images/s")
    print(f"throughput ratio                    {one / two:8.2f}x  (asked: 1.6x)")


def binding_cost(img: np.ndarray, k: int, repeat: int) -> None:
    """The drop-in's time against the library call alone, and the copies in and out.

    The two calls alternate, `repeat` times each, and the cost is the median of the
    differences of each pair: the difference is a few percent of the call, smaller than
    the drift of a shared machine between two separate series of runs."""

    def core():
        return _tessera.slic(
            img, n_segments=k, convert_to_lab=True, spacing=(1.0, 1.0, 1.0), sigma=(0.0, 0.0, 0.0)
        )

    fulls, cores, labels = [], [], None
    for _ in range(repeat):
        t = time.perf_counter()
        ts.slic(img, n_segments=k)
        fulls.append(time.perf_counter() - t)
        t = time.perf_counter()
        labels = core()
        cores.append(time.perf_counter() - t)
    full = statistics.median(fulls)
    python = statistics.median(f - c for f, c in zip(fulls, cores, strict=True))
    copy_in = best_of(lambda: np.array(img, copy=True), repeat)
    copy_out = best_of(lambda: np.array(labels, copy=True), repeat)
    cost = python + copy_in + copy_out
    print(f"image                               {img.shape[1]}x{img.shape[0]}")
    print(f"drop-in slic (median)               {full * 1e3:8.2f} ms")
    print(f"library call (incl. its copies)     {statistics.median(cores) * 1e3:8.2f} ms")
    print(f"argument handling in Python         {python * 1e3:8.3f} ms  (median of pairs)")
    print(f"array copy in / out                 {copy_in * 1e3:8.3f} / {copy_out * 1e3:.3f} ms")
    print(f"binding's share of SLIC's time      {100 * cost / full:8.2f} %  (asked: <= 5%)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=Path("../shared/data/bsds500/val/images"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("-k", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.images.is_dir():
        print(f"no image folder {args.images}", file=sys.stderr)
        return 2
    images = load_images(args.images, args.limit)
    tessera.set_num_threads(1)
    print("== one core (set_num_threads(1)), same process ==")
    speedup(images, args.k, args.repeat)
    print("== two Python threads, tessera on one thread each ==")
    threads(images, args.k)
    print("== the binding's own cost ==")
    sized = [i for i in images if i.shape[:2] in ((321, 481), (481, 321))]
    binding_cost(sized[0] if sized else images[0], args.k, BINDING_PAIRS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
