"""tessera's own API: label guarantees, metrics equal to the CLI's, threads, dtypes,
layouts, errors."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tessera
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tessera import crf, metrics

from .conftest import ROOT


def sequential(labels: np.ndarray) -> bool:
    return np.array_equal(np.unique(labels), np.arange(labels.max() + 1))


def connected(labels: np.ndarray) -> bool:
    """Every label is one 4-connected region (flood fill per label)."""
    seen = np.zeros(labels.shape, bool)
    h, w = labels.shape
    starts = 0
    for y in range(h):
        for x in range(w):
            if seen[y, x]:
                continue
            starts += 1
            lab = labels[y, x]
            stack = [(y, x)]
            seen[y, x] = True
            while stack:
                cy, cx = stack.pop()
                for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                    if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx]:
                        if labels[ny, nx] == lab:
                            seen[ny, nx] = True
                            stack.append((ny, nx))
    return starts == labels.max() + 1


ALGOS = {
    "slic": lambda im: tessera.slic(im, 30),
    "kmeans": lambda im: tessera.kmeans(im, 30),
    "felzenszwalb": lambda im: tessera.felzenszwalb(im, 30),
    "quickshift": lambda im: tessera.quickshift(im, kernel_size=2),
    "etps": lambda im: tessera.etps(im, 30),
    "meanshift": lambda im: tessera.meanshift(im),
}


@pytest.mark.parametrize("name", sorted(ALGOS))
def test_algorithms_label_guarantees(chelsea, name):
    im = chelsea[::4, ::4]
    labels = ALGOS[name](im)
    assert labels.shape == im.shape[:2] and labels.dtype == np.int64
    assert sequential(labels)
    assert connected(labels)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.just(3))),
    st.integers(1, 50),
)
def test_slic_guarantees_hold_on_any_image(img, k):
    labels = tessera.slic(img, k)
    assert labels.shape == img.shape[:2]
    assert sequential(labels)
    assert connected(labels)


def test_same_result_whatever_the_thread_count(chelsea):
    try:
        tessera.set_num_threads(1)
        one = tessera.slic(chelsea, 300)
        tessera.set_num_threads(2)
        two = tessera.slic(chelsea, 300)
    finally:
        tessera.set_num_threads(0)
    np.testing.assert_array_equal(one, two)


def test_safe_from_several_python_threads(chelsea):
    expected = tessera.slic(chelsea, 200)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: tessera.slic(chelsea, 200), range(8)))
    for r in results:
        np.testing.assert_array_equal(r, expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),
        lambda a: a[::-1, ::-1][::-1, ::-1],
        lambda a: np.ascontiguousarray(a[::-1])[::-1],
        lambda a: np.pad(a, ((0, 0), (0, 5), (0, 0)))[:, :-5],
        lambda a: a.astype(a.dtype.newbyteorder(">")),
    ],
    ids=["fortran", "double-reversed", "negative-strides", "non-contiguous", "big-endian"],
)
def test_any_layout_gives_the_same_labels(chelsea, make):
    base = tessera.slic(chelsea, 150)
    for dtype in (np.uint8, np.float32, np.float64):
        img = chelsea.astype(dtype) / (255.0 if dtype != np.uint8 else 1)
        img = img.astype(dtype)
        ref = tessera.slic(img, 150)
        got = tessera.slic(make(img), 150)
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(tessera.slic(make(chelsea), 150), base)


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float16, np.float32, np.float64]
)
def test_dropin_accepts_every_dtype(chelsea, dtype):
    img = chelsea[::3, ::3].astype(dtype)
    labels = tessera.segmentation.slic(img, n_segments=50)
    assert labels.min() == 1 and sequential(labels - 1)


def test_bad_arguments_name_the_argument():
    img = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="n_segments"):
        tessera.slic(img, 0)
    with pytest.raises(TypeError, match="n_segments"):
        tessera.slic(img, "many")
    with pytest.raises(ValueError, match="compactness"):
        tessera.slic(img, 4, compactness=-1.0)
    with pytest.raises(ValueError, match="distance"):
        tessera.slic(img, 4, distance="chebyshev")
    with pytest.raises(ValueError, match="mask"):
        tessera.slic(img, 4, mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="n must be"):
        tessera.set_num_threads(-2)


def test_a_panic_becomes_an_exception():
    with pytest.raises(RuntimeError, match="panicked"):
        tessera._tessera.panic_for_tests()
    # and the module still works afterwards
    assert tessera.slic(np.zeros((4, 4)), 1, channel_axis=None).max() == 0


def test_metrics_equal_the_cli(tmp_path, chelsea):
    exe = next(
        (p for p in (ROOT / "target/release/tessera", ROOT / "target/debug/tessera") if p.exists()),
        None,
    )
    if exe is None:
        pytest.skip("no tessera binary in target/ (cargo build -p tessera-cli)")
    labels = tessera.slic(chelsea, 200)
    gts = [tessera.felzenszwalb(chelsea, 20), tessera.kmeans(chelsea, 30)]
    (tmp_path / "l").mkdir()
    (tmp_path / "g").mkdir()
    # `.labels.npy` files number segments from 1 (0 = unlabelled), as `segment` writes them.
    np.save(tmp_path / "l" / "cat.labels.npy", (labels + 1).astype(np.uint32))
    for k, g in enumerate(gts, 1):
        np.save(tmp_path / "g" / f"cat_{k}.npy", g.astype(np.uint32))
    out = subprocess.run(
        [exe, "eval", "--labels", tmp_path / "l", "--gt", tmp_path / "g", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    cli = json.loads(out.stdout)
    ours = metrics.evaluate(labels, gts)
    for key in (
        "boundary_recall",
        "boundary_precision",
        "undersegmentation_error",
        "asa",
        "compactness",
        "segments",
        "disconnected",
    ):
        assert ours[key] == pytest.approx(cli[key], rel=1e-12, abs=1e-12), key


def test_metrics_single_functions(chelsea):
    labels = tessera.slic(chelsea, 100)
    gt = tessera.felzenszwalb(chelsea, 10)
    all_ = metrics.evaluate(labels, [gt], chelsea)
    assert metrics.boundary_recall(labels, gt) == all_["boundary_recall"]
    assert metrics.asa(labels, [gt]) == all_["asa"]
    assert 0 < metrics.explained_variation(labels, chelsea) <= 1
    assert metrics.explained_variation(labels, chelsea) == pytest.approx(
        all_["explained_variation"]
    )
    assert 0 < metrics.compactness(labels) <= 1


def test_compare_and_rag(chelsea):
    a = tessera.slic(chelsea, 100)
    c = tessera.compare(a, a + 7)
    assert c["changed_pixels"] == 0 and c["adjusted_rand_index"] == 1.0
    g = tessera.rag(chelsea, a)
    n = a.max() + 1
    assert g["sizes"].sum() == a.size and len(g["sizes"]) == n
    assert g["edges"].shape[1] == 2 and (g["edges"][:, 0] < g["edges"][:, 1]).all()
    assert g["centroids"].shape == (n, 2) and g["mean_colours"].shape == (n, 3)
    ys, xs = np.nonzero(a == 0)
    np.testing.assert_allclose(g["centroids"][0], [ys.mean(), xs.mean()], rtol=1e-4)


def test_crf_from_scribbles(chelsea):
    labels = tessera.slic(chelsea, 200)
    scribbles = np.full(labels.shape, -1)
    scribbles[:20, :20] = 0
    scribbles[-20:, -20:] = 1
    res = crf.label(chelsea, labels, scribbles=scribbles, solver="trws")
    assert res.classes.shape == labels.shape
    assert set(np.unique(res.classes)) <= {0, 1}
    assert res.classes[5, 5] == 0 and res.classes[-5, -5] == 1
    assert res.bound is None or res.bound <= res.energy + 1e-6
    with pytest.raises(ValueError, match="exactly one"):
        crf.label(chelsea, labels)


def test_volumes_and_many_channels():
    rng = np.random.default_rng(3)
    vol = np.zeros((12, 14, 16))
    vol[6:] = 1.0
    vol += 0.01 * rng.normal(size=vol.shape)
    labels = tessera.slic(vol, 8, channel_axis=None, spacing=(2.0, 1.0, 1.0))
    assert labels.shape == vol.shape and sequential(labels)
    assert not np.intersect1d(labels[:6], labels[6:]).size  # no supervoxel crosses the step
    drop = tessera.segmentation.slic(vol, n_segments=8, channel_axis=None, start_label=0)
    assert drop.shape == vol.shape and sequential(drop)
    eight = rng.random((20, 24, 8))
    labels = tessera.segmentation.slic(eight, n_segments=6)
    assert labels.shape == (20, 24) and labels.min() == 1


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    try:
        exec(compile(block, "README.md", "exec"), {})
    finally:
        tessera.set_num_threads(0)
