"""tessera.segmentation against skimage.segmentation on real images: equal outputs where
promised, the same errors and warnings, and the label guarantees."""

import warnings

import numpy as np
import pytest
import skimage.segmentation as sk
from tessera import segmentation as ts


@pytest.mark.parametrize("mode", ["thick", "inner", "outer", "subpixel"])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_find_boundaries_equals_skimage(chelsea, mode, connectivity):
    labels = sk.slic(chelsea, n_segments=200)
    ours = ts.find_boundaries(labels, connectivity=connectivity, mode=mode)
    theirs = sk.find_boundaries(labels, connectivity=connectivity, mode=mode)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("mode", ["thick", "inner", "outer"])
def test_mark_boundaries_equals_skimage(chelsea, mode):
    labels = sk.slic(chelsea, n_segments=100)
    ours = ts.mark_boundaries(chelsea, labels, mode=mode, outline_color=(0, 0, 1))
    theirs = sk.mark_boundaries(chelsea, labels, mode=mode, outline_color=(0, 0, 1))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_relabel_sequential_equals_skimage():
    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.int32, np.int64, np.uint64):
        a = rng.choice([0, 3, 7, 100, 120], size=(30, 20)).astype(dtype)
        for offset in (1, 5, 200):
            ours = ts.relabel_sequential(a, offset=offset)
            theirs = sk.relabel_sequential(a, offset=offset)
            assert ours[0].dtype == theirs[0].dtype
            np.testing.assert_array_equal(ours[0], theirs[0])
            np.testing.assert_array_equal(np.asarray(ours[1]), np.asarray(theirs[1]))
            np.testing.assert_array_equal(np.asarray(ours[2]), np.asarray(theirs[2]))


def test_slic_like_skimage_on_a_photo(chelsea):
    ours = ts.slic(chelsea, n_segments=400)
    theirs = sk.slic(chelsea, n_segments=400)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.min() == theirs.min() == 1
    # Same contract: every label from 1 to n used.
    assert np.array_equal(np.unique(ours), np.arange(1, ours.max() + 1))
    assert abs(int(ours.max()) - int(theirs.max())) < 0.25 * theirs.max()


def test_slic_grey_photo_needs_channel_axis_none(camera):
    for f in (ts.slic, sk.slic):
        with pytest.raises(ValueError, match="channel_axis=-1 indicates multichannel"):
            f(camera)
    assert ts.slic(camera, channel_axis=None, start_label=0).min() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_label": 2},
        {"convert2lab": True, "channel_axis": -1},
        {"spacing": [1, 2, 3, 4]},
    ],
)
def test_slic_errors_match(kwargs):
    img = np.zeros((6, 7, 2)) if "convert2lab" in kwargs else np.zeros((6, 7))
    if "convert2lab" not in kwargs:
        kwargs = {"channel_axis": None, **kwargs}
    errors = []
    for f in (ts.slic, sk.slic):
        with pytest.raises((ValueError, TypeError)) as e:
            f(img, **kwargs)
        errors.append(e.type)
    assert errors[0] is errors[1]


def test_slic_nan_and_inf_refused_unless_masked():
    img = np.zeros((4, 5))
    img[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ts.slic(img, channel_axis=None)
    out = ts.slic(img, mask=~np.isnan(img), channel_axis=None)
    assert out[2, 3] == 0 and out.max() >= 1


def test_felzenszwalb_warns_like_skimage():
    img = np.zeros((10, 10, 10))
    for f in (ts.felzenszwalb, sk.felzenszwalb):
        with pytest.warns(RuntimeWarning, match="third dimension of 10"):
            try:
                f(img, channel_axis=-1)
            except ValueError:
                pass  # tessera before the many-channel library work: at least warned
        with pytest.raises(ValueError, match="works only on single or multi-channel 2d"):
            f(img, channel_axis=None)


def test_felzenszwalb_grey_photo(camera):
    ours = ts.felzenszwalb(camera, scale=100, sigma=0.5, min_size=50, channel_axis=None)
    theirs = sk.felzenszwalb(camera, scale=100, sigma=0.5, min_size=50, channel_axis=None)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.bincount(ours.ravel()).min() >= 50
    assert 0.5 < ours.max() / theirs.max() < 2.0


def test_quickshift_errors_match():
    for f in (ts.quickshift, sk.quickshift):
        with pytest.raises(ValueError, match="Only RGB images can be converted"):
            f(np.zeros((5, 5, 2)))
        with pytest.raises(ValueError, match="kernel_size"):
            f(np.zeros((5, 5, 3)), kernel_size=0.5)


def test_no_warning_on_ordinary_calls(chelsea):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ts.slic(chelsea, n_segments=50)
        ts.felzenszwalb(chelsea)
        ts.mark_boundaries(chelsea, ts.slic(chelsea, n_segments=50))


@pytest.mark.parametrize("multichannel", [True, False])
@pytest.mark.parametrize("n_segments", [1, 7, 100])
def test_masked_slic_seeds_are_skimages(n_segments, multichannel):
    from skimage.segmentation.slic_superpixels import _get_mask_centroids
    from tessera._mask_seeds import mask_centroids

    yy, xx = np.mgrid[:120, :90]
    mask = ((yy - 60) ** 2 + (xx - 40) ** 2 < 45**2) | (xx > 80)
    ours = mask_centroids(mask[np.newaxis], n_segments, multichannel)
    theirs, _ = _get_mask_centroids(mask[np.newaxis].view("uint8"), n_segments, multichannel)
    np.testing.assert_array_equal(ours, theirs)


def test_masked_slic_numbers_segments_as_skimage(chelsea):
    # Without connectivity enforcement the numbers are the centroids' order, which only the
    # same seeds reproduce: most pixels must carry scikit-image's very label.
    yy, xx = np.mgrid[: chelsea.shape[0], : chelsea.shape[1]]
    mask = (yy - 150) ** 2 + (xx - 220) ** 2 < 130**2
    kw = dict(n_segments=60, mask=mask, enforce_connectivity=False)
    ours, theirs = ts.slic(chelsea, **kw), sk.slic(chelsea, **kw)
    assert (ours[~mask] == 0).all() and (ours[mask] > 0).all()
    assert np.mean(ours[mask] == theirs[mask]) > 0.8


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("masked", [False, True])
def test_slic_integer_levels_equal_the_scaled_float_image(chelsea, dtype, masked):
    # 8- and 16-bit images that do not span their dtype's range are rescaled through a table
    # of their levels: the labels must be those of the float image scaled sample by sample
    # as img_as_float does, which takes the per-sample path.
    top = np.iinfo(dtype).max
    img = (chelsea.astype(np.float64) * (0.6 * top / 255) + 0.1 * top).astype(dtype)
    as_float = img.astype(np.float64) * (1.0 / top)
    mask = chelsea[..., 0] > 80 if masked else None
    for kwargs in ({}, {"channel_axis": None}):
        im, fl = (img, as_float) if kwargs == {} else (img[..., 1], as_float[..., 1])
        ours = ts.slic(im, n_segments=150, mask=mask, **kwargs)
        reference = ts.slic(fl, n_segments=150, mask=mask, **kwargs)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, reference)
