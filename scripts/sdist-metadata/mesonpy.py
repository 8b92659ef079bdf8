"""A stand-in for meson-python's build backend, used only to *download* an sdist.

`pip download` insists on preparing an sdist's metadata, and meson-python does that by
compiling the whole package (about ten minutes for scikit-image on two cores). The test
script only needs scikit-image's test files from the sdist, so it runs `pip download
--no-build-isolation` with this directory first on PYTHONPATH: pip then asks this module
for the metadata, which it copies from the sdist's own PKG-INFO, and nothing is built.
"""

import os
import shutil


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version = _name_version()
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    target = os.path.join(metadata_directory, dist_info)
    os.makedirs(target, exist_ok=True)
    shutil.copyfile("PKG-INFO", os.path.join(target, "METADATA"))
    return dist_info


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("this stand-in backend only provides metadata for pip download")


def _name_version():
    fields = {}
    with open("PKG-INFO", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
    return fields["name"], fields["version"]
