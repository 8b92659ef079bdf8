"""tessera.crf's learned models: features, textons, fit, predict, the model file."""

import pickle
import subprocess

import numpy as np
import pytest
from tessera import crf

from .conftest import ROOT

RNG = np.random.default_rng(7)


def scene(boundary: int = 12, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Red left of ``boundary`` (class 0), blue right of it (class 1), a little noise."""
    img = RNG.uniform(0.0, 0.15, (size, size, 3)).astype(np.float32)
    img[:, :boundary, 0] += 0.8
    img[:, boundary:, 2] += 0.8
    truth = np.zeros((size, size), dtype=np.uint8)
    truth[:, boundary:] = 1
    return img, truth


def blocks(size: int = 24, step: int = 6) -> np.ndarray:
    """Square superpixels of ``step`` pixels."""
    r = np.arange(size) // step
    return (r[:, None] * (size // step) + r[None, :]).astype(np.int32)


def test_features_shapes_and_dtypes():
    img, _ = scene()
    f = crf.features(img, blocks())
    n = 16
    assert len(f) == n
    assert f.nodes.dtype == np.float32 and f.nodes.shape[0] == n
    assert f.nodes.shape[1] == len(f.feature_names)
    assert f.sizes.dtype == np.uint32 and f.sizes.tolist() == [36] * n
    assert f.edges.dtype == np.uint32 and f.edges.shape[1] == 2
    # A 4x4 grid of blocks: 24 4-neighbour pairs, each joining two different blocks.
    assert f.edges.shape[0] == 24
    assert (f.edges[:, 0] != f.edges[:, 1]).all() and f.edges.max() < n
    assert f.edge_features.dtype == np.float32 and f.edge_features.shape == (24, 6)
    assert np.isfinite(f.nodes).all() and np.isfinite(f.edge_features).all()
    assert f.segmentation is None and f.textons is None
    # Red blocks and blue blocks differ in their features.
    assert not np.allclose(f.nodes[0], f.nodes[3])


def test_features_renumber_like_label():
    img, _ = scene()
    lab = blocks() * 10 + 5  # gaps and an offset: renumbered in order of first appearance
    f = crf.features(img, lab.astype(np.uint64))
    g = crf.features(img, blocks())
    assert np.array_equal(f.labels, g.labels)
    assert np.array_equal(f.nodes, g.nodes)


def test_features_of_slic_record_the_segmentation():
    img, _ = scene()
    f = crf.features(img, n_segments=9, compactness=5.0)
    assert f.segmentation == {"algorithm": "slic", "n_segments": 9, "compactness": 5.0}
    assert f.labels.shape == img.shape[:2]
    assert len(f) == f.labels.max() + 1


def test_textons_learn_pickle_and_feature_blocks():
    imgs = [scene(b)[0] for b in (8, 12, 16)]
    t = crf.learn_textons(imgs, k=4, stride=3)
    assert len(t) == 4 and t.centres.shape == (4, 17) and t.scale.shape == (17,)
    back = pickle.loads(pickle.dumps(t))
    assert np.array_equal(back.centres, t.centres)
    plain = crf.features(imgs[0], blocks())
    with_t = crf.features(imgs[0], blocks(), textons=t)
    # Three histogram blocks of 4 bins (Hellinger: one value a bin).
    assert with_t.nodes.shape[1] == plain.nodes.shape[1] + 12
    assert with_t.textons is not None


def test_fit_learns_two_halves_perfectly_and_predicts_them():
    data = [scene(b) for b in (6, 12, 18)]
    samples = [(crf.features(img, blocks()), truth) for img, truth in data]
    model = crf.fit(samples, n_classes=2, c=1.0, unary_c=1.0)
    assert model.n_classes == 2 and model.pairwise
    r = model.report
    assert r["passes"] >= 1 and r["passes"] == len(r["trace"])
    assert r["primal"] >= r["dual"] - 1e-9 and r["gap"] >= -1e-9
    for img, truth in [scene(12), scene(18)]:
        f = crf.features(img, blocks())
        want = truth[::6, ::6].ravel()
        got = model.predict(f)
        assert got.dtype == np.uint32
        assert got.tolist() == want.tolist()
        assert model.unary_only().predict(f).tolist() == want.tolist()
    # Per-superpixel classes instead of pixels (one void: -1), and a unary-only model.
    sp = []
    for (_, truth), (f, _) in zip(data, samples, strict=True):
        y = truth[::6, ::6].ravel().astype(np.int64)
        y[0] = -1
        sp.append((f, y))
    again = crf.fit(sp, n_classes=2, c=1.0, pairwise=False)
    assert not again.pairwise
    assert again.predict(samples[1][0]).tolist() == data[1][1][::6, ::6].ravel().tolist()


def test_save_load_round_trip_and_predict_image(tmp_path):
    data = [scene(b) for b in (8, 12, 16)]
    samples = [(crf.features(img, blocks()), truth) for img, truth in data]
    with pytest.raises(ValueError, match="superpixels"):
        crf.fit(samples, n_classes=2, c=1.0).save(tmp_path / "no.json")
    samples = [(crf.features(img, n_segments=16), truth) for img, truth in data]
    model = crf.fit(samples, n_classes=2, c=1.0)
    img, truth = scene(12)
    pixels = model.predict_image(img)
    assert pixels.shape == truth.shape and pixels.dtype == np.int64
    assert (pixels == truth).mean() > 0.9
    path = tmp_path / "model.json"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]
    back = crf.Model.load(str(path))
    assert back.n_classes == 2 and back.segmentation == model.segmentation
    assert back.report is None
    assert np.array_equal(back.predict_image(img), pixels)
    f = crf.features(img, n_segments=16)
    assert np.array_equal(back.predict(f), model.predict(f))
    assert np.array_equal(back.unary_only().predict(f), model.unary_only().predict(f))


def test_models_pickle_bit_for_bit(tmp_path):
    data = [scene(b) for b in (8, 12, 16)]
    t = crf.learn_textons([img for img, _ in data], k=4, stride=3)
    samples = [(crf.features(img, n_segments=16, textons=t), truth) for img, truth in data]
    model = crf.fit(samples, n_classes=2, c=1.0, unary_c=0.5)
    path = tmp_path / "model.json"
    model.save(path)
    img, _ = scene(12)
    f = crf.features(img, n_segments=16, textons=t)
    for m in (model, model.unary_only(), crf.Model.load(path)):
        back = pickle.loads(pickle.dumps(m))
        # The state holds every weight: the same bytes again means the same model.
        assert pickle.dumps(back) == pickle.dumps(m)
        assert back.report == m.report and back.segmentation == m.segmentation
        assert back.feature_params == m.feature_params and back.pairwise == m.pairwise
        assert np.array_equal(back.textons.centres, m.textons.centres)
        assert np.array_equal(back.predict(f), m.predict(f))
        assert np.array_equal(back.predict_image(img), m.predict_image(img))
        assert np.array_equal(back.unary_only().predict(f), m.unary_only().predict(f))
    # Saving the unpickled model writes the same file.
    pickle.loads(pickle.dumps(model)).save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
    for bad in (b"", b"[]", b'{"version": 99}', b'{"version": 1}'):
        with pytest.raises(ValueError, match="not a pickled tessera Model"):
            crf.Model._from_state(bad)


def test_features_pickle_and_train_the_same_model():
    data = [scene(b) for b in (8, 12, 16)]
    t = crf.learn_textons([img for img, _ in data], k=4, stride=3)
    for f in (
        crf.features(data[0][0], n_segments=16, textons=t),
        crf.features(data[0][0], blocks()),
    ):
        back = pickle.loads(pickle.dumps(f))
        assert pickle.dumps(back) == pickle.dumps(f)
        for name in ("nodes", "sizes", "edges", "edge_features", "labels"):
            assert np.array_equal(getattr(back, name), getattr(f, name)), name
        assert back.segmentation == f.segmentation and back.feature_names == f.feature_names
    samples = [(crf.features(img, n_segments=16, textons=t), truth) for img, truth in data]
    again = [(pickle.loads(pickle.dumps(f)), truth) for f, truth in samples]
    a = crf.fit(samples, n_classes=2, c=1.0)
    b = crf.fit(again, n_classes=2, c=1.0)
    assert np.array_equal(a.predict(again[1][0]), b.predict(samples[1][0]))
    assert a.report["primal"] == b.report["primal"]
    state = pickle.dumps(samples[0][0])
    for bad in (b"", b"\x07", state[:-5]):
        with pytest.raises(ValueError, match="not pickled tessera Features"):
            crf.Features._from_state(bad)


def test_bad_inputs_raise_clear_errors(tmp_path):
    img, truth = scene()
    f = crf.features(img, blocks())
    with pytest.raises(ValueError, match="empty"):
        crf.fit([], n_classes=2)
    with pytest.raises(TypeError, match="Features"):
        crf.fit([(img, truth)], n_classes=2)
    with pytest.raises(TypeError, match="integer"):
        crf.fit([(f, truth.astype(float))], n_classes=2)
    with pytest.raises(ValueError, match="16 superpixels"):
        crf.fit([(f, np.zeros(5, int))], n_classes=2)
    with pytest.raises(ValueError, match="shape"):
        crf.fit([(f, truth[:5])], n_classes=2)
    with pytest.raises(ValueError, match="c must be > 0"):
        crf.fit([(f, truth)], n_classes=2, c=0.0)
    with pytest.raises(ValueError, match="n_classes"):
        crf.fit([(f, truth)], n_classes=1)
    with pytest.raises(ValueError, match="inference"):
        crf.fit([(f, truth)], n_classes=2, inference="icm")
    with pytest.raises(ValueError, match="labelled superpixel|no"):
        crf.fit([(f, np.full(16, 255))], n_classes=2)
    with pytest.raises(ValueError, match="labels"):
        crf.features(img, blocks()[:5])
    with pytest.raises(TypeError, match="integer dtype"):
        crf.features(img, blocks().astype(float))
    with pytest.raises(ValueError, match="texton_map"):
        crf.features(img, blocks(), texton_map="sqrt")
    with pytest.raises(ValueError, match="other parameters"):
        crf.fit([(f, truth), (crf.features(img, blocks(), l_bins=4), truth)], n_classes=2)
    model = crf.fit([(f, truth)], n_classes=2, c=1.0)
    with pytest.raises(ValueError, match="computed with"):
        model.predict(crf.features(img, blocks(), context=False))
    with pytest.raises(ValueError, match="superpixels"):
        model.predict_image(img)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else", "version": 2}')
    with pytest.raises(ValueError, match="not a tessera model"):
        crf.Model.load(bad)
    bad.write_text('{"format": "tessera-crf-model", "version": 1}')
    with pytest.raises(ValueError, match="learn it again"):
        crf.Model.load(bad)
    with pytest.raises(ValueError, match="cannot read"):
        crf.Model.load(tmp_path / "missing.json")


def test_a_cli_written_model_labels_like_the_cli(tmp_path):
    exe = next(
        (p for p in (ROOT / "target/release/tessera", ROOT / "target/debug/tessera") if p.exists()),
        None,
    )
    if exe is None:
        pytest.skip("no tessera binary in target/ (cargo build -p tessera-cli)")
    skimage_io = pytest.importorskip("skimage.io")
    for d in ("images", "gt", "out"):
        (tmp_path / d).mkdir()
    names = []
    for i, b in enumerate((8, 12, 16)):
        img, truth = scene(b)
        names.append(f"s{i}")
        skimage_io.imsave(tmp_path / "images" / f"s{i}.png", (img * 255).astype(np.uint8))
        skimage_io.imsave(tmp_path / "gt" / f"s{i}.png", truth, check_contrast=False)
    (tmp_path / "train.txt").write_text("\n".join(names) + "\n")
    model_path = tmp_path / "model.json"
    common = ["-j", "1"]
    subprocess.run(
        [exe, "learn", "--images", tmp_path / "images", "--gt", tmp_path / "gt"]
        + ["--list", tmp_path / "train.txt", "--classes", "2", "-k", "16", "--c", "1"]
        + ["--textons", "4", "--texton-stride", "3", "-o", model_path]
        + common,
        check=True,
        capture_output=True,
    )
    model = crf.Model.load(model_path)
    assert model.n_classes == 2 and model.textons is not None and len(model.textons) == 4
    subprocess.run(
        [exe, "label", "--model", model_path, tmp_path / "images" / "s1.png"]
        + ["-o", tmp_path / "out"]
        + common,
        check=True,
        capture_output=True,
    )
    cli = np.asarray(skimage_io.imread(tmp_path / "out" / "s1.classes.png"))
    image = np.asarray(skimage_io.imread(tmp_path / "images" / "s1.png"))
    assert np.array_equal(model.predict_image(image), cli.astype(np.int64))
