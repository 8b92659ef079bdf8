"""Shared fixtures: the repository's sample images."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
ASSETS = ROOT / "assets"


def load_png(name: str) -> np.ndarray:
    skimage_io = pytest.importorskip("skimage.io")
    return np.asarray(skimage_io.imread(ASSETS / name))


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    return load_png("chelsea.png")[..., :3]


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    img = load_png("camera.png")
    return img if img.ndim == 2 else img[..., 0]
