"""Reading an untrusted ``.npz`` safely: every member read eagerly, headers checked before any
data is allocated, object (pickled) arrays refused unread, and sizes capped."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError, os_problem

# A model of 784-4096-4096-10 in float64 is about 160 MB; a file declaring more than this in
# all is refused before anything is inflated (a zip bomb or a huge declared array).
MAX_TOTAL_BYTES = 1 << 30


def read_npz(path: str | Path, max_total: int = MAX_TOTAL_BYTES) -> dict[str, np.ndarray]:
    """Every array in the ``.npz`` at ``path``, or ModelFileError naming the file and problem."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > max_total:
                raise ModelFileError(f"{path}: declares {declared:,} bytes of data, more than "
                                     f"the {max_total:,} allowed")
            return {_member_name(path, info): _read_member(path, zf, info) for info in infos}
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{path}: {_not_read(path, e)}") from None
    except OSError as e:
        raise ModelFileError(f"{path}: {os_problem(e, 'a model file')}") from None
    except EOFError:  # a member's data ends early
        raise ModelFileError(f"{path}: {TRUNCATED}") from None
    except (ValueError, NotImplementedError) as e:
        raise ModelFileError(f"{path}: cannot read ({e})") from None


TRUNCATED = ("damaged or truncated: it begins as a NumPy .npz (zip) archive but its end is "
             "missing or broken; copy or save it again")


def _not_read(path: Path, error: zipfile.BadZipFile) -> str:
    """Why ``path`` could not be read as a zip: it is empty, is no zip at all (a .npy, say),
    or is one cut short (the zip's directory of members, written last, is missing) or damaged."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        head = b""
    if not head:
        return "an empty file, not a NumPy .npz file"
    if head.startswith(b"\x93NUMPY"):
        return "a single NumPy array (.npy), not a .npz file of them"
    if not head.startswith(b"PK"):
        return "not a NumPy .npz file (not a zip archive at all)"
    if str(error) == "File is not a zip file":  # zipfile's words for a directory not found
        return TRUNCATED
    return f"damaged ({error}); copy or save it again"


def _member_name(path: Path, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy"):
        raise ModelFileError(f"{path}: member {info.filename!r} is not a .npy array")
    return info.filename[:-4]


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One .npy member: header first (dtype, shape), then exactly the bytes it declares."""
    name = info.filename
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{path}: {name} has unsupported .npy version {version}")
        if dtype.hasobject:
            raise ModelFileError(f"{path}: {name} is a pickled object array; refused unread")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise ModelFileError(f"{path}: {name} declares shape {shape} ({nbytes:,} bytes) "
                                 f"but holds only {info.file_size:,}")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise ModelFileError(f"{path}: {name} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
