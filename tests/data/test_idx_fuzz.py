"""Property: a randomly corrupted IDX file either raises DatasetError naming the file or reads
as exactly the array its bytes mean under the IDX format, decoded here by a separate parser."""

from __future__ import annotations

import gzip
import math
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mnistnp.data import idx_bytes, read_idx
from mnistnp.errors import DatasetError

IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
RAW = idx_bytes(IMAGES)
GZ = gzip.compress(RAW, mtime=0)

# The IDX format (LeCun's MNIST page): two zero bytes, a type code, the number of dimensions,
# each dimension as a big-endian 32-bit count, then the values, big-endian, row-major.
# Type code -> (struct letter, NumPy dtype in native order).
SPEC_TYPES = {0x08: ("B", "u1"), 0x09: ("b", "i1"), 0x0B: ("h", "i2"), 0x0C: ("i", "i4"),
              0x0D: ("f", "f4"), 0x0E: ("d", "f8")}


def spec_decode(data: bytes) -> np.ndarray | None:
    """The array that IDX bytes (gzip or not) stand for, or None if they are not a valid file."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in SPEC_TYPES or data[3] == 0:
        return None
    letter, dtype = SPEC_TYPES[data[2]]
    ndim = data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        return None
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    count = math.prod(dims)
    if len(data) - start != count * struct.calcsize(letter):
        return None  # values missing or left over
    values = struct.unpack(f">{count}{letter}", data[start:])
    return np.array(values, dtype=dtype).reshape(dims)


def test_the_reference_parser_reads_the_intact_file() -> None:
    for data in (RAW, GZ):
        decoded = spec_decode(data)
        assert decoded is not None and decoded.dtype == IMAGES.dtype
        np.testing.assert_array_equal(decoded, IMAGES)
    assert spec_decode(RAW[:-1]) is None and spec_decode(RAW + b"\0") is None


corruption = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 64), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
)


def corrupt(data: bytes, how: tuple[str, int, int]) -> bytes:
    kind, at, value = how
    at = at % (len(data) + 1)
    if kind == "flip" and data:
        i = at % len(data)
        return data[:i] + bytes([data[i] ^ value]) + data[i + 1:]
    if kind == "truncate":
        return data[:at]
    if kind == "append":
        return data + bytes([value]) * at
    return data[:at] + bytes([value]) + data[at:]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(["raw", "gz", "raw-then-gz"]),
       hows=st.lists(corruption, min_size=1, max_size=3))
@example(source="raw", hows=[("flip", 30, 0xFF)])  # a pixel changed: still a valid file
@example(source="raw-then-gz", hows=[("flip", 30, 0x01)])
@example(source="raw", hows=[("flip", 2, 0x08 ^ 0x0B), ("append", 60, 0)])  # now int16
@example(source="raw", hows=[("flip", 7, 3 ^ 1), ("truncate", 4 + 12 + 20, 0)])  # 1x4x5
def test_random_corruption_reads_as_its_bytes_mean_or_raises_dataset_error(tmp_path, source,
                                                                            hows):
    data = GZ if source == "gz" else RAW
    for how in hows:
        data = corrupt(data, how)
    if source == "raw-then-gz":
        data = gzip.compress(data, mtime=0)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    expected = spec_decode(data)
    try:
        array = read_idx(path)
    except DatasetError as e:
        assert path.name in str(e)  # the message names the file
        return
    assert expected is not None, f"read {array.dtype} {array.shape} from an invalid file"
    assert array.dtype == expected.dtype and array.shape == expected.shape
    assert np.array_equal(array, expected, equal_nan=array.dtype.kind == "f")
