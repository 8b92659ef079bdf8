"""tessera.dask: tiled SLIC on Dask gives the in-memory labels, on a two-process
LocalCluster and on dask's local scheduler; the plan's binding and its parts pickle."""

import pickle

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import tessera.dask  # noqa: E402
from tessera import _tessera, segmentation  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Two worker processes of one thread each, as a small cluster; not the default client,
    # so that the tests without `client=` run on the local scheduler.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def photo(chelsea):
    return np.ascontiguousarray(chelsea[:96, :128])


def on(client, labels):
    """The labels computed on the cluster (whose futures they hold: the client is not the
    default one, so ``.compute()`` alone would not find them)."""
    return client.compute(labels).result()


def connected(labels: np.ndarray) -> bool:
    """Every label one 4-connected piece."""
    measure = pytest.importorskip("skimage.measure")
    pieces = measure.label(labels.astype(np.int64), background=-1, connectivity=1)
    return int(pieces.max()) == len(np.unique(labels))


@pytest.mark.parametrize("tile", [32, 57, 200])
def test_exact_is_the_in_memory_partition_on_a_cluster(client, photo, tile):
    arr = da.from_array(photo, chunks=(40, 50, 3))
    got = tessera.dask.slic(arr, n_segments=50, tile=tile, client=client)
    assert got.dtype == np.uint32
    assert got.chunks[0][0] == min(tile, photo.shape[0])
    want = segmentation.slic(photo, n_segments=50)
    np.testing.assert_array_equal(on(client, got), want)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel_axis": None, "n_segments": 40},
        {"channel_axis": None, "n_segments": 40, "sigma": 1.5, "compactness": 0.2},
        {"channel_axis": None, "n_segments": 25, "spacing": (1.0, 2.0), "slic_zero": True},
        {"channel_axis": None, "n_segments": 30, "enforce_connectivity": False},
    ],
)
def test_exact_grey_floats_smoothing_and_options(client, camera, kwargs):
    # Few iterations: the cost is in the passes, and exactness does not need many.
    img = camera[40:120, 60:160].astype(np.float32) / 3.0
    arr = da.from_array(img, chunks=30)
    got = tessera.dask.slic(arr, max_num_iter=3, tile=40, start_label=0, client=client, **kwargs)
    want = segmentation.slic(img, max_num_iter=3, start_label=0, **kwargs)
    np.testing.assert_array_equal(on(client, got), want)


def test_exact_float_colour_and_channel_axis(client, photo):
    img = np.moveaxis(photo.astype(np.float64) / 255.0, -1, 0)  # channels first
    got = tessera.dask.slic(
        da.from_array(img), n_segments=50, max_num_iter=4, channel_axis=0, tile=48, client=client
    )
    want = segmentation.slic(img, n_segments=50, max_num_iter=4, channel_axis=0)
    np.testing.assert_array_equal(on(client, got), want)


def test_fast_mode_guarantees(client, photo):
    arr = da.from_array(photo, chunks=64)
    got = on(client, tessera.dask.slic(arr, n_segments=80, tile=40, seams="fast", client=client))
    assert got.shape == photo.shape[:2]
    values = np.unique(got)
    # Every pixel labelled, labels numbered 1.. without gaps, every segment connected.
    np.testing.assert_array_equal(values, np.arange(1, len(values) + 1))
    assert connected(got)
    want = segmentation.slic(photo, n_segments=80)
    changed = tessera.compare(want - 1, got.astype(np.int64) - 1)["changed_fraction"]
    assert changed < 0.2
    # Its own halo is taken, and is still a valid run.
    wide = tessera.dask.slic(arr, n_segments=80, tile=40, seams="fast", halo=30, client=client)
    assert connected(on(client, wide))


def test_local_scheduler_without_client(photo):
    from distributed import default_client

    with pytest.raises(ValueError):
        default_client()  # the cluster above is not the default: this is dask's scheduler
    got = tessera.dask.slic(photo, n_segments=40, tile=64)  # a numpy array goes too
    np.testing.assert_array_equal(got.compute(), segmentation.slic(photo, n_segments=40))
    fast = tessera.dask.slic(photo, n_segments=40, tile=64, seams="fast").compute()
    assert connected(fast)


def test_current_client_is_used(client, photo):
    with client.as_current():
        got = tessera.dask.slic(
            da.from_array(photo, chunks=60), n_segments=30, max_num_iter=3, tile=64
        )
    # The parts live on the cluster: the paint runs there too.
    np.testing.assert_array_equal(
        client.compute(got).result(), segmentation.slic(photo, n_segments=30, max_num_iter=3)
    )


def test_zarr_input(client, photo, tmp_path):
    zarr = pytest.importorskip("zarr", reason="zarr is not installed (optional)")
    z = zarr.open_array(
        tmp_path / "photo.zarr", mode="w", shape=photo.shape, chunks=(50, 50, 3), dtype=photo.dtype
    )
    z[:] = photo
    z = zarr.open_array(tmp_path / "photo.zarr", mode="r")
    got = tessera.dask.slic(z, n_segments=45, max_num_iter=4, tile=50, client=client)
    want = segmentation.slic(photo, n_segments=45, max_num_iter=4)
    np.testing.assert_array_equal(on(client, got), want)


def test_bad_input_errors_as_the_dropin(photo):
    grey = photo[..., 0]
    cases = [
        (ValueError, dict(image=grey)),  # channel_axis=-1 on a 2-D image
        (ValueError, dict(image=photo, start_label=2)),
        (ValueError, dict(image=photo, mask=np.ones(photo.shape[:2], bool))),
        (ValueError, dict(image=np.zeros((4, 20, 20, 3)))),  # a volume
        (ValueError, dict(image=np.zeros((2, 20, 20, 3, 1)))),
        (ValueError, dict(image=photo, tile=8)),
        (TypeError, dict(image=photo, tile=32.5)),
        (ValueError, dict(image=photo, seams="slow")),
        (ValueError, dict(image=photo, halo=10)),
        (ValueError, dict(image=photo[:, :, :2], convert2lab=True)),
        (ValueError, dict(image=photo, n_segments=0)),
        (ValueError, dict(image=photo, compactness=-1.0)),
        (ValueError, dict(image=photo, spacing=(1.0, 1.0, 1.0, 1.0))),
        (ValueError, dict(image=photo, channel_axis=5)),
        (TypeError, dict(image=photo, channel_axis=1.5)),
        (TypeError, dict(image=np.zeros((20, 20), dtype="U1"), channel_axis=None)),
        (ValueError, dict(image=np.zeros((0, 20)), channel_axis=None)),
        (ValueError, dict(image=np.full((20, 20), np.nan), channel_axis=None)),
        (ValueError, dict(image=np.full((20, 20), np.inf), channel_axis=None)),
    ]
    for error, kwargs in cases:
        image = kwargs.pop("image")
        with pytest.raises(error):
            tessera.dask.slic(image, **kwargs)
        if error is not ValueError or "tile" in kwargs or "seams" in kwargs or "halo" in kwargs:
            continue
        if "mask" in kwargs or np.asarray(image).ndim > 3:
            continue
        with pytest.raises(error):  # the drop-in refuses it the same way
            segmentation.slic(image, **kwargs)


def test_map_files_on_the_cluster(client, photo, tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.npy"
        np.save(p, np.roll(photo, 10 * i, axis=1))
        paths.append(p)
    got = tessera.dask.map_files("slic", paths, n_segments=30, client=client)
    for p, labels in zip(paths, got, strict=True):
        np.testing.assert_array_equal(labels, segmentation.slic(np.load(p), n_segments=30))
    futures = tessera.dask.map_files(np.shape, paths, client=client, gather=False)
    assert [f.result() for f in futures] == [photo.shape] * 3
    local = tessera.dask.map_files(lambda a: int(a.sum()), paths)
    assert local == [int(np.load(p).sum()) for p in paths]
    with pytest.raises(ValueError):
        tessera.dask.map_files("no_such_function", paths)
    with pytest.raises(TypeError):
        tessera.dask.map_files(np.shape, str(paths[0]))


# --- the plan's binding --------------------------------------------------------------


def test_plan_steps_pickle_and_match_the_in_memory_run(photo):
    plan = _tessera.TilePlan(photo.shape[:2], 3, 64, n_segments=40, convert_to_lab=True)
    plan = pickle.loads(pickle.dumps(plan))
    assert (plan.shape, plan.channels, plan.tile, plan.seams) == (photo.shape[:2], 3, 64, "exact")
    assert not plan.needs_range()
    assert plan.passes() == plan.update_passes() + 2

    def window(t, name):
        y, x, h, w = plan.window(t, name)
        return photo[y : y + h, x : x + w]

    def roundtrip(part):
        back = pickle.loads(pickle.dumps(part))
        assert bytes(back) == bytes(part)
        return back

    tiles = range(plan.tile_count())
    state = plan.start([roundtrip(plan.seeds(t, window(t, "seeds"))) for t in tiles])
    for _ in range(plan.update_passes()):
        state = roundtrip(state)
        moved = [roundtrip(plan.iterate(state, t, window(t, "iterate"))) for t in tiles]
        state = plan.advance(state, moved)
    parts = [roundtrip(plan.last(state, t, window(t, "last"))) for t in tiles]
    numbering = roundtrip(plan.stitch([p.summary() for p in parts]))
    whole = _tessera.slic(photo, n_segments=40, convert_to_lab=True).astype(np.int64)
    assert numbering.count() == whole.max() + 1
    for t, part in zip(tiles, parts, strict=True):
        y, x, h, w = plan.core(t)
        labels = plan.paint(numbering, part, t)
        assert labels.dtype == np.uint32 and labels.shape == (h, w)
        np.testing.assert_array_equal(labels, whole[y : y + h, x : x + w])
    with pytest.raises(ValueError):  # a summary has no labels to paint
        plan.paint(numbering, parts[0].summary(), 0)
    if plan.tile_count() > 1 and plan.core(0)[2:] != plan.core(1)[2:]:
        with pytest.raises(ValueError, match="not tile"):
            plan.paint(numbering, parts[0], 1)


def test_plan_refuses_bad_arguments(photo):
    plan = _tessera.TilePlan(photo.shape[:2], 3, 64, n_segments=40)
    with pytest.raises(ValueError, match="pass_name"):
        plan.window(0, "later")
    with pytest.raises(ValueError, match="tile"):
        plan.core(plan.tile_count())
    with pytest.raises(ValueError):  # a window of the wrong size
        plan.seeds(0, photo[:10, :10])
    with pytest.raises(ValueError):  # of the wrong channel count
        y, x, h, w = plan.window(0, "seeds")
        plan.seeds(0, photo[y : y + h, x : x + w, :2])
    with pytest.raises(ValueError, match="SeedPart"):
        _tessera.SeedPart(b"\xff\xff\xff\xff\xff\xff")
    with pytest.raises(TypeError):
        _tessera.FinalPart("not bytes")
    with pytest.raises(ValueError, match="seams"):
        _tessera.TilePlan((100, 100), 3, 64, "slow")
    with pytest.raises(ValueError, match="halo"):
        _tessera.TilePlan((100, 100), 3, 64, "exact", 10)
    with pytest.raises(ValueError, match="tile"):
        _tessera.TilePlan((100, 100), 3, 8)
    with pytest.raises(ValueError, match="distance"):
        _tessera.TilePlan((100, 100), 3, 64, distance="chebyshev")
    with pytest.raises(ValueError):
        plan.start([])  # not one part per tile
    fast = pickle.loads(pickle.dumps(_tessera.TilePlan((100, 100), 2, 40, "fast", 12)))
    assert fast.seams == "fast" and fast.needs_range()  # two channels: rescaled, not L*a*b*
