"""IDX files (mnistnp.data.idx): round trips raw and gzip, gzip found by its magic bytes, and one
DatasetError naming the file for every way a file can be broken."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from mnistnp.data import idx_bytes, parse_idx, read_idx, write_idx
from mnistnp.errors import DatasetError

GZIP_MAGIC = b"\x1f\x8b"


def expect_error(path: Path, *words: str) -> str:
    """read_idx(path) must raise DatasetError naming the file and every one of ``words``."""
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message, message
    return message


def write_bytes(path: Path, data: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --- the format, worked by hand -------------------------------------------------------------

def test_idx_bytes_matches_a_hand_written_header_and_payload() -> None:
    array = np.array([[1, 2, 3], [4, 5, 255]], dtype=np.uint8)
    # magic: two zero bytes, type 0x08 (unsigned byte), 2 dimensions; then 2 and 3 as big-endian
    # 32-bit counts; then the pixels row by row.
    expected = (b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03"
                + bytes([1, 2, 3, 4, 5, 255]))
    assert idx_bytes(array) == expected


def test_parse_idx_reads_big_endian_int32_written_by_hand() -> None:
    data = b"\x00\x00\x0c\x01" + struct.pack(">I", 3) + struct.pack(">3i", -2, 70000, 1)
    array = parse_idx(data)
    assert array.tolist() == [-2, 70000, 1]
    assert array.dtype == np.int32 and array.dtype.isnative


# --- round trips ------------------------------------------------------------------------------

ROUND_TRIP_ARRAYS = {
    "uint8-3d": np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8),
    "uint8-1d": np.arange(10, dtype=np.uint8) * 25,
    "int32-2d": np.array([[-(2**31), 0, 2**31 - 1], [1, -1, 123456]], dtype=">i4"),
    "float32-2d": np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32),
    "float64-2d": np.array([[np.pi, -0.0], [1e-300, 1e300]]),
    "int16-2d": np.array([[-32768, 32767]], dtype=np.int16),
    "int8-1d": np.array([-128, 0, 127], dtype=np.int8),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("key", list(ROUND_TRIP_ARRAYS))
def test_round_trip(tmp_path: Path, key: str, compress: bool) -> None:
    array = ROUND_TRIP_ARRAYS[key]
    path = tmp_path / ("data.idx.gz" if compress else "data.idx")
    write_idx(path, array)
    assert path.read_bytes().startswith(GZIP_MAGIC) == compress  # .gz decides by default
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=") and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_gzip_is_found_by_magic_bytes_not_by_name(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    gzip_named_plain = tmp_path / "images-idx3-ubyte"
    raw_named_gz = tmp_path / "images-idx3-ubyte.gz"
    write_idx(gzip_named_plain, array, compress=True)
    write_idx(raw_named_gz, array, compress=False)
    assert gzip_named_plain.read_bytes().startswith(GZIP_MAGIC)
    assert raw_named_gz.read_bytes().startswith(b"\x00\x00\x08\x03")
    np.testing.assert_array_equal(read_idx(gzip_named_plain), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_gzip_zero_padding_after_the_stream_is_accepted(tmp_path: Path) -> None:
    # gzip(1) allows zero bytes after the last member (tape padding); so does gzip.decompress.
    array = np.arange(6, dtype=np.uint8)
    path = tmp_path / "padded.gz"
    path.write_bytes(gzip.compress(idx_bytes(array)) + b"\x00" * 16)
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_bytes_refuses_what_idx_cannot_hold() -> None:
    with pytest.raises(ValueError, match="uint16"):
        idx_bytes(np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="bool"):
        idx_bytes(np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="dimensions"):
        idx_bytes(np.array(7, dtype=np.uint8))


# --- broken files: one DatasetError naming the file and the problem ---------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_truncated_payload(tmp_path: Path, compress: bool) -> None:
    data = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    path = write_bytes(tmp_path / "short-idx3-ubyte", data[:-1], compress)
    message = expect_error(path, "truncated")
    assert "47" in message and "48" in message  # the bytes found and the bytes the shape needs


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_extra_trailing_bytes(tmp_path: Path, compress: bool) -> None:
    data = idx_bytes(np.zeros(5, dtype=np.uint8))
    path = write_bytes(tmp_path / "long-idx1-ubyte", data + b"\x00", compress)
    expect_error(path, "trailing")


def test_truncated_float_payload_counts_item_size(tmp_path: Path) -> None:
    # 2x2 float64 needs 32 payload bytes; 31 is one short even though 31 > 2*2.
    data = idx_bytes(np.zeros((2, 2)))
    expect_error(write_bytes(tmp_path / "f8", data[:-1]), "truncated")


@pytest.mark.parametrize("first_two", [b"\x01\x00", b"\x00\x01", b"PK"])
def test_bad_magic(tmp_path: Path, first_two: bytes) -> None:
    data = first_two + idx_bytes(np.zeros(4, dtype=np.uint8))[2:]
    expect_error(write_bytes(tmp_path / "magic", data), "magic")


@pytest.mark.parametrize("code", [0x00, 0x07, 0x0A, 0x0F, 0xFF])
def test_unknown_type_code(tmp_path: Path, code: int) -> None:
    data = bytes([0, 0, code, 1]) + struct.pack(">I", 1) + b"\x00" * 8
    expect_error(write_bytes(tmp_path / "code", data), "type code", f"0x{code:02x}")


def test_zero_dimensions(tmp_path: Path) -> None:
    expect_error(write_bytes(tmp_path / "nodims", b"\x00\x00\x08\x00"), "0 dimensions")


@pytest.mark.parametrize("length", [4, 8, 15])
def test_header_cut_short(tmp_path: Path, length: int) -> None:
    # A header declaring 3 dimensions is 16 bytes long.
    data = idx_bytes(np.zeros((1, 2, 2), dtype=np.uint8))[:length]
    expect_error(write_bytes(tmp_path / "header", data), "header", str(length))


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x08"], ids=["empty", "3-bytes"])
def test_file_shorter_than_a_header(tmp_path: Path, content: bytes) -> None:
    expect_error(write_bytes(tmp_path / "tiny", content), "short", f"({len(content)} bytes)")


def test_empty_gzip_stream(tmp_path: Path) -> None:
    expect_error(write_bytes(tmp_path / "empty.gz", b"", compress=True), "0 bytes")


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path = write_bytes(tmp_path / "cut.gz", data[: len(data) // 2])
    expect_error(path, "gzip")


def test_garbage_after_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path = write_bytes(tmp_path / "garbage.gz", data + b"this is not gzip")
    expect_error(path, "gzip")


def test_bad_gzip_crc(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    data[-8] ^= 0xFF  # the CRC-32 is the first four of the last eight bytes
    path = write_bytes(tmp_path / "crc.gz", bytes(data))
    expect_error(path, "gzip")


def test_gzip_holding_a_non_idx_payload(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "text.gz", b"hello, world", compress=True)
    expect_error(path, "magic")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere-idx3-ubyte.gz"
    message = expect_error(path, "no such file")
    assert str(tmp_path) in message


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "train-images-idx3-ubyte.gz"
    folder.mkdir()
    expect_error(folder, "directory")


def test_dimensions_whose_product_overflows_int64(tmp_path: Path) -> None:
    # 65536**4 == 2**64: a size computed in int64 wraps to 0 and would pass a header with no
    # payload; the check must use exact integers.
    data = struct.pack(">HBB4I", 0, 0x08, 4, 65536, 65536, 65536, 65536)
    expect_error(write_bytes(tmp_path / "huge", data), "truncated")
