#!/usr/bin/env python3
"""Tiled SLIC on a two-worker Dask LocalCluster beside the in-memory call (issue 12): the same
partition with the same numbers, and both wall times.

Run from the checkout with the test environment (scripts/test creates it):

    .venv/bin/python scripts/bench-dask.py [--side 4000x3000] [--tile 1024] [--repeat 3]

The image is mirrored copies of assets/chelsea.png; superpixels about 50 px a side. The
in-memory call runs in this process on two threads (`TESSERA_NUM_THREADS`); the cluster has
two worker processes of one thread each, so both sides have the machine's two cores. Times
are wall clock, best of `--repeat`, the cluster started beforehand (its start-up is printed
apart); the dask time includes building the graph and gathering the labels into one array.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TESSERA_NUM_THREADS", "2")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import tessera.dask  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from skimage import io  # noqa: E402
from tessera import segmentation as ts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def mirrored(width: int, height: int) -> np.ndarray:
    photo = io.imread(ROOT / "assets" / "chelsea.png")[..., :3]
    ph, pw = photo.shape[:2]

    def fold(n: int, m: int) -> np.ndarray:
        v = np.arange(n) % (2 * m)
        return np.where(v < m, v, 2 * m - 1 - v)

    return photo[fold(height, ph)][:, fold(width, pw)]


def best(repeat: int, f) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", default="4000x3000")
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    width, height = (int(v) for v in a.side.split("x"))
    image = mirrored(width, height)
    k = width * height // 2500
    kw = dict(n_segments=k, start_label=1)

    mem_s, mem = best(a.repeat, lambda: ts.slic(image, **kw))
    t = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    client = Client(cluster)
    start_s = time.perf_counter() - t
    try:
        arr = da.from_array(image, chunks=(a.tile, a.tile, 3))
        dask_s, labels = best(
            a.repeat,
            lambda: tessera.dask.slic(arr, tile=a.tile, client=client, **kw).compute(),
        )
    finally:
        client.close()
        cluster.close()
    same = bool(np.array_equal(np.asarray(labels, dtype=np.int64), np.asarray(mem)))
    print(
        f"{width}x{height}, {k} superpixels asked, {int(np.max(mem))} made, tile {a.tile}: "
        f"in memory {mem_s:.2f} s, Dask LocalCluster (2 workers) {dask_s:.2f} s "
        f"(cluster start {start_s:.1f} s), same labels: {same}"
    )


if __name__ == "__main__":
    main()
