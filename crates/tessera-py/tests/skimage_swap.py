"""pytest plugin: runs scikit-image's own tests with tessera's drop-in functions.

Loaded with ``-p skimage_swap`` before the test modules are imported, it replaces the six
functions in ``skimage.segmentation`` by tessera's, so that a test module's
``from skimage.segmentation import slic`` gets tessera's ``slic``.

It also deselects the documented exceptions listed in ``skimage-known-failures.txt`` (beside
this file), by exact node id: pytest's own ``--deselect`` matches prefixes, so it would also
drop ``test_enforce_connectivity_mask`` along with ``test_enforce_connectivity``. A listed id
that no test has any more is an error, so the list cannot go stale.
"""

from pathlib import Path

import pytest
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


KNOWN_FAILURES = Path(__file__).with_name("skimage-known-failures.txt")


def known_failures():
    """The node ids in the known-failures file (comments and blank lines skipped)."""
    ids = []
    for line in KNOWN_FAILURES.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(line)
    return ids


def pytest_collection_modifyitems(config, items):
    listed = set(known_failures())
    keep, dropped = [], []
    for item in items:
        (dropped if item.nodeid in listed else keep).append(item)
    missing = listed - {item.nodeid for item in dropped}
    if missing:
        raise pytest.UsageError(
            f"{KNOWN_FAILURES.name} lists tests that were not collected: {sorted(missing)}"
        )
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config):
    return "skimage_swap: skimage.segmentation." + ", ".join(SWAPPED) + " are tessera's"
