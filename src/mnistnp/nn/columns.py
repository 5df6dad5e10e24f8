"""A convolution's columns: ``im2col`` copies every kernel-sized window of a batch into the
columns one GEMM multiplies, and ``col2im``, its adjoint, adds column entries back to pixels."""

from __future__ import annotations

import numpy as np

from . import threads

__all__ = ["FEW_IMAGES", "col2im", "im2col"]

# Up to this many images, im2col makes its columns in one strided copy, and pooling takes its
# windows in fewer NumPy calls: for the second conv of the benchmark CNN, one copy took 43 us
# against 67 us for kh*kw copies on one image, 321 against 341 on 8, but 8.2 ms against
# 7.6 ms on 128 (lab/cnn_threads.py --cases im2col).
FEW_IMAGES = 8



def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           out: np.ndarray, split: bool = True) -> np.ndarray:
    """Copy every kernel-sized window of ``x`` (N, C, Hp, Wp), one every ``stride`` pixels, into
    ``out`` of shape (C, kh, kw, N, H', W') and return it: ``out[c, i, j, n, h, w]`` is
    ``x[n, c, h*sh + i, w*sw + j]``. ``x`` may have any strides (a transposed view is fine).
    A few images take one strided copy; large batches are cut into batch ranges copied side
    by side (``threads.run``) unless ``split`` is False (the caller is one of those threads)."""
    if len(x) <= FEW_IMAGES:
        _im2col_strided(x, stride, out)
    elif not split:
        _im2col(x, stride, out)
    else:
        threads.run(lambda lo, hi: _im2col(x[lo:hi], stride, out[:, :, :, lo:hi]), len(x),
                    out.size)
    return out


def _im2col_strided(x: np.ndarray, stride: tuple[int, int], out: np.ndarray) -> None:
    """``im2col`` as one copy from a (C, kh, kw, N, H', W') strided view of ``x``: one NumPy
    call instead of kh*kw, which is what a one-image prediction pays for (in Python time)."""
    sn, sc, sy, sx = x.strides
    windows = np.lib.stride_tricks.as_strided(
        x, out.shape, (sc, sy, sx, sn, sy * stride[0], sx * stride[1]), writeable=False)
    np.copyto(out, windows)


def _im2col(x: np.ndarray, stride: tuple[int, int], out: np.ndarray) -> None:
    sh, sw = stride
    _, kh, kw, _, ho, wo = out.shape
    for i in range(kh):
        for j in range(kw):
            # (C, N, H', W') <- (N, C, H', W'): runs of W' contiguous numbers when sw == 1
            np.copyto(out[:, i, j], x[:, :, i:i + sh * (ho - 1) + 1:sh,
                                        j:j + sw * (wo - 1) + 1:sw].transpose(1, 0, 2, 3))


def col2im(cols: np.ndarray, stride: tuple[int, int], out: np.ndarray,
           spread: np.ndarray) -> np.ndarray:
    """The adjoint of ``im2col``: add each column entry back to the pixel it came from.

    ``cols`` (C, kh, kw, N, H', W'); ``out`` (C, N, Hp, Wp) and ``spread`` (a scratch of the same
    shape), each a slab of C-contiguous memory (``out[:, lo:hi]`` of a larger one is fine);
    ``out`` is overwritten and returned.

    A strided add, ``out[:, :, i:, j:] += cols[:, i, j]``, walks rows of W' numbers, and NumPy's
    ufunc machinery costs about 16 ns a row (3.7x a strided copy of the same rows, 14x a
    contiguous add, measured on the recipe's 64-channel layer at batch 128). So each kernel
    offset's columns are first copied onto a zero grid the size of the padded image (``spread``:
    the entry from output pixel (y, x) lands at (y*sh, x*sw)), and that grid is then added to
    ``out`` shifted by the offset, i*Wp + j numbers along each channel's row of images: one
    contiguous add per channel. Entries from one image never cross into the next (a window
    stays inside its padded image), and the zeros added elsewhere change nothing, so every pixel
    gets the same sums in the same order (offset by offset) as the strided adds give.
    """
    sh, sw = stride
    _, kh, kw, n, ho, wo = cols.shape
    hp, wp = out.shape[2:]
    length = n * hp * wp
    flat_out, flat_spread = _rows(out, length), _rows(spread, length)
    grid = spread[:, :, :sh * (ho - 1) + 1:sh, :sw * (wo - 1) + 1:sw]
    if (sh, sw) == (1, 1):  # only the border below and right of the grid is not written
        spread[:, :, ho:] = 0
        spread[:, :, :ho, wo:] = 0
    else:
        spread[...] = 0
    for i in range(kh):
        for j in range(kw):
            np.copyto(grid, cols[:, i, j])
            shift = i * wp + j
            if shift == 0:
                np.copyto(flat_out, flat_spread)
            else:
                flat_out[:, shift:] += flat_spread[:, :length - shift]
    return out


def _rows(a: np.ndarray, length: int) -> np.ndarray:
    """``a`` (C, ...) as a (C, length) view: each channel's entries are contiguous."""
    rows = a.reshape(len(a), length)
    if not np.shares_memory(rows, a):  # a copy: what is written to it would be lost
        raise ValueError("each channel's entries must be contiguous")
    return rows
