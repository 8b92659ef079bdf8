#!/usr/bin/env python3
"""The scikit-learn peer of tessera's unary-only model, on the features `tessera learn
--export-features DIR` wrote: a linear classifier per superpixel, C chosen on val.

    python3 -m venv /tmp/sk && /tmp/sk/bin/pip install scikit-learn numpy
    /tmp/sk/bin/python scripts/msrc-sklearn.py DIR [--model logreg|svc] [--c 0.01,0.1,1]

Scores are pixel-level, from `<split>_counts.npy` (ground-truth pixels of each class per
superpixel): global accuracy and average per-class accuracy, void ignored, as tessera's.
"""
import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC


def load(d, split):
    return (np.load(f"{d}/{split}_X.npy"), np.load(f"{d}/{split}_y.npy"),
            np.load(f"{d}/{split}_counts.npy"))


def scores(pred, counts):
    n = counts.shape[1]
    conf = np.zeros((n, n))
    for k in range(n):
        conf[:, k] = counts[pred == k].sum(axis=0)
    right = np.trace(conf)
    rows = conf.sum(axis=1)
    present = rows > 0
    return right / conf.sum(), np.mean(np.diag(conf)[present] / rows[present])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--model", default="logreg", choices=["logreg", "svc"])
    ap.add_argument("--c", default="0.001,0.01,0.1,1")
    a = ap.parse_args()
    X, y, _ = load(a.dir, "train")
    Xv, _, cv = load(a.dir, "val")
    keep = y >= 0
    sc = StandardScaler().fit(X[keep])
    X, Xv = sc.transform(X[keep]), sc.transform(Xv)
    y = y[keep]
    for c in [float(v) for v in a.c.split(",")]:
        t = time.time()
        if a.model == "logreg":
            m = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        else:
            m = LinearSVC(C=c, class_weight="balanced", multi_class="crammer_singer",
                          dual=False if X.shape[0] > X.shape[1] else True, max_iter=5000)
        m.fit(X, y)
        fit_s = time.time() - t
        g, avg = scores(m.predict(Xv), cv)
        print(f"{a.model} C={c}: val global {100 * g:.2f} average {100 * avg:.2f} "
              f"(fit {fit_s:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
