"""Reading and writing IDX files (the MNIST format), raw or gzip, with strict validation."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError, os_problem

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian dtype. MNIST uses only 0x08 (unsigned bytes).
_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_CODES = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
          for k, v in _TYPES.items()}
# What each kind of file in a dataset must be: unsigned bytes of this many dimensions.
KINDS: dict[str, int] = {"images": 3, "labels": 1}


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if they start with the gzip magic (the name does not matter)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: {os_problem(e, 'an IDX file')}") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path.name}: broken gzip stream ({e})") from None


def parse_idx(data: bytes, name: str = "<bytes>", kind: str | None = None) -> np.ndarray:
    """Parse IDX bytes into an array; ``name`` is used in error messages.

    The payload must be exactly the product of the dimensions: no more, no less. With
    ``kind`` ("images" or "labels"), the header must also declare that kind's unsigned bytes
    (3-D or 1-D). That is checked before the dimensions are read, so a file of the wrong kind
    is named as such rather than as a truncated one whose "dimensions" are its first pixels.

    Parameters
    ----------
    data : bytes
        The file's bytes, already gunzipped.
    name : str, default "<bytes>"
        What error messages call the data (its file name).
    kind : {"images", "labels"}, optional
        The kind the header must declare.

    Returns
    -------
    ndarray of shape (d1, ..., dk), dtype as the header declares (uint8 for MNIST)
        The array, big-endian types converted to native order: MNIST's images are of shape
        (n_samples, 28, 28), dtype uint8, and its labels of shape (n_samples,), dtype uint8.

    Raises
    ------
    DatasetError
        Naming the data and the problem, for a bad header, kind or length.
    """
    if len(data) < 4:
        raise DatasetError(f"{name}: file too short for an IDX header ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DatasetError(f"{name}: bad magic {data[:4].hex()} (not an IDX file)")
    if code not in _TYPES:
        raise DatasetError(f"{name}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise DatasetError(f"{name}: IDX header declares 0 dimensions")
    if kind is not None and (code, ndim) != (0x08, KINDS[kind]):
        declared = "unsigned bytes" if code == 0x08 else np.dtype(_TYPES[code]).name
        article = "an" if kind[0] in "aeiou" else "a"
        raise DatasetError(f"{name}: not {article} {kind} file: its IDX header (magic "
                           f"{data[:4].hex()}) declares {ndim}-D {declared}, not "
                           f"{KINDS[kind]}-D unsigned bytes")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{name}: header cut short ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_TYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on hostile dims
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DatasetError(
            f"{name}: payload {what}: {got:,} bytes for shape {'x'.join(map(str, shape))} "
            f"(expected {expected:,})"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # A native, writable array (frombuffer over bytes is read-only), as Keras' loader gives.
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, raw or gzip (detected by magic bytes), into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    ndarray of shape (d1, ..., dk), dtype as the header declares (uint8 for MNIST)
        As ``parse_idx`` gives it.

    Raises
    ------
    DatasetError
        Naming the file, if it cannot be read or is not a valid IDX file.
    """
    path = Path(path)
    return parse_idx(read_bytes(path), path.name)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX bytes (uncompressed).

    Parameters
    ----------
    array : ndarray of any shape, dtype uint8, int8, int16, int32, float32 or float64
        The array to encode.

    Returns
    -------
    bytes
        The IDX header (big-endian) and the data.
    """
    dtype = array.dtype
    key = dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype
    if key not in _CODES:
        raise ValueError(f"IDX cannot hold dtype {dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = struct.pack(f">HBB{array.ndim}I", 0, _CODES[key], array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=key).tobytes()


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> None:
    """Write ``array`` as an IDX file, gzipped if ``compress``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    array : ndarray of any shape, dtype uint8, int8, int16, int32, float32 or float64
        The array to write, as ``idx_bytes`` encodes it.
    compress : bool, optional
        Gzip the file; default: if the name ends in .gz.
    """
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
