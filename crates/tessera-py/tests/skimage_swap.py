"""pytest plugin: runs scikit-image's own tests with tessera's drop-in functions.

Loaded with ``-p skimage_swap`` before the test modules are imported, it replaces the six
functions in ``skimage.segmentation`` by tessera's, so that a test module's
``from skimage.segmentation import slic`` gets tessera's ``slic``.
"""

import skimage.segmentation
import tessera.segmentation

SWAPPED = (
    "slic",
    "felzenszwalb",
    "quickshift",
    "mark_boundaries",
    "find_boundaries",
    "relabel_sequential",
)


def pytest_configure(config):
    for name in SWAPPED:
        setattr(skimage.segmentation, name, getattr(tessera.segmentation, name))


def pytest_report_header(config):
    return "skimage_swap: skimage.segmentation." + ", ".join(SWAPPED) + " are tessera's"
