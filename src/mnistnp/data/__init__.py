"""Data files: the IDX format and the bundled MNIST files (``mnistnp.datasets`` loads them)."""

from .idx import idx_bytes, parse_idx, read_bytes, read_idx, write_idx

__all__ = ["idx_bytes", "parse_idx", "read_bytes", "read_idx", "write_idx"]
