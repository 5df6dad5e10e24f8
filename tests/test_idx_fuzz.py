"""Property: random corruption of a valid IDX file reads correctly or raises DatasetError."""

from __future__ import annotations

import gzip

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnistnp.data import idx_bytes, read_idx
from mnistnp.errors import DatasetError

IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
RAW = idx_bytes(IMAGES)
GZ = gzip.compress(RAW, mtime=0)

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
@given(source=st.sampled_from(["raw", "gz"]), hows=st.lists(corruption, min_size=1, max_size=3))
def test_random_corruption_reads_or_raises_dataset_error(tmp_path, source, hows):
    data = RAW if source == "raw" else GZ
    for how in hows:
        data = corrupt(data, how)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except DatasetError as e:
        assert path.name in str(e)  # the message names the file
        return
    # A successful read must be a well-formed array whose size matches the bytes it came from.
    assert isinstance(array, np.ndarray)
    if array.dtype == IMAGES.dtype and array.shape == IMAGES.shape:
        assert array.tobytes() == (gzip.decompress(data) if data[:2] == b"\x1f\x8b"
                                   else data)[-array.nbytes:]
