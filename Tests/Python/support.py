"""What the Python tests share: where things are, and a safetensors writer."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
DATASETS = REPOSITORY.parent / "shared" / "datasets"
TOOL = REPOSITORY / ".build" / "release" / "rnnkit"

SAFETENSORS_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32", np.dtype(np.int64): "I64"}


def write_safetensors(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    """Writes NumPy arrays as safetensors: an 8-byte little-endian header
    length, a JSON header of dtypes, shapes and data offsets, then the data."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def japanese_vowels() -> tuple[Path, Path]:
    """The JapaneseVowels training and test files, or a visible skip."""
    folder = DATASETS / "ucr-uea"
    train, test = folder / "JapaneseVowels_TRAIN.ts", folder / "JapaneseVowels_TEST.ts"
    if not (train.is_file() and test.is_file()):
        pytest.skip(
            f"JapaneseVowels is not in {folder} (the data sets live in ../shared/datasets beside the repository)"
        )
    return train, test


def tool() -> Path:
    """The release build of the command line tool, or a visible skip."""
    if not TOOL.is_file():
        pytest.skip(f"{TOOL} is not built: swift build -c release --product rnnkit (Tests/python.sh builds it)")
    return TOOL
