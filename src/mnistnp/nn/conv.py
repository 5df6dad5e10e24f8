"""2-D convolution as one im2col copy and one GEMM (``Conv2D``), with its im2col/col2im helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import threads
from .base import Layer, Shape
from .columns import col2im, im2col
from .graph import GraphBuilder
from .init import INITIALIZERS, check_init
from .layers import ReLU, with_channels
from .shorthand import Arg, Shorthand, one_of, whole

# Layout. Batches come and go as (N, C, H, W). Inside, the columns are channel-major,
# (C*kh*kw, N*H'*W'), and the GEMM writes its output as (F, N*H'*W'): with that, all three
# GEMMs (output, dW, dcol) are single BLAS calls on contiguous or plainly transposed matrices,
# so NumPy hands them to BLAS without a copy, and the only layout change left between (N, C, ...)
# and (C, N, ...) swaps the two outer axes: a copy in contiguous runs of H*W numbers, cheap,
# unlike the element-by-element transpose that NHWC <-> NCHW costs. So the output is returned
# as an (N, F, H', W') view of that (F, N, H', W') memory, without a copy; pooling and batch
# norm lay their own buffers out the same way (``scratch_like``), and any other layer reads it
# as the strided view it is.

# In evaluation, at most this many column entries at once (64 MB in float32): the batch is
# cut into chunks of samples, so predicting on 10,000 images does not build gigabytes of columns.
EVAL_COLUMN_LIMIT = 1 << 24
def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """(v, v) for an int, the two ints of a pair; ValueError naming ``name`` otherwise."""
    pair: list[Any] = [value, value] if not isinstance(value, (list, tuple)) else list(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_geometry(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, zeros before, zeros after) along one axis of length ``size``.

    "valid": no padding, output floor((size - kernel) / stride) + 1, trailing pixels that no
    window reaches are dropped (as PyTorch). "same": output ceil(size / stride) (for stride 1,
    the input size), padded with zeros as evenly as possible, the odd one after: an even
    kernel gets one more row/column of zeros at the bottom/right. That is PyTorch's
    ``padding='same'`` for stride 1 and TensorFlow's ``'SAME'`` for any stride (PyTorch refuses
    'same' with a stride above 1).
    """
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2, total - total // 2
    if size < kernel:
        raise ValueError(f"a {kernel}-wide kernel does not fit in {size} pixels with "
                         "'valid' padding")
    return (size - kernel) // stride + 1, 0, 0


class Conv2D(Layer):
    """2-D cross-correlation (as PyTorch's ``Conv2d``) of images with F filters plus a bias.

    Takes (N, C, H, W) float batches, with filters W of shape (F, C, kh, kw) and a bias b of shape
    (F,), giving (N, F, H', W').

    ``kernel_size`` and ``stride`` are ints or (height, width) pairs; ``padding`` is "valid"
    or "same" (see ``conv_geometry``); ``init`` "he" (the default, for ReLU) or "glorot".

    Training-mode outputs and input gradients live in buffers the layer reuses (valid until
    its next training-mode call); the output is an (N, F, H', W') view of (F, N, H', W')
    memory (see the layout note above). Evaluation returns fresh C-contiguous arrays.
    ``backward`` differentiates the last ``forward``, which must be in training mode; it
    consumes the columns that ``forward`` kept (their buffer takes the column gradient), so
    each training ``forward`` allows one ``backward``.

    Parameters
    ----------
    in_channels : int
        C, the input's channels.
    out_channels : int
        F, the number of filters.
    kernel_size : int or (int, int)
        The filters' height and width (one int for both).
    stride : int or (int, int), default 1
        The step between windows, down and across.
    padding : {"valid", "same"}, default "valid"
        No border, or a zero border that keeps H and W at stride 1 (see ``conv_geometry``).
    init : {"he", "glorot"}, default "he"
        The weight initialiser.
    """

    kind: ClassVar[str] = "Conv2D"
    shorthands: ClassVar[dict[str, Shorthand]] = {"conv": Shorthand(
        (Arg("F", whole(1)), Arg("K", whole(1)), Arg("S", whole(1), 1),
         Arg("PAD", one_of("same", "valid"), "same")),
        "F filters of KxK, stride S (default 1), PAD same (default: the output as large as "
        "the input, over S) or valid (no padding); then a ReLU")}
    param_names: ClassVar[tuple[str, ...]] = ("W", "b")
    config_attributes: ClassVar[dict[str, str]] = {"kernel_size": "kernel", "init": "init_name"}
    owns_cores: ClassVar[bool] = True
    # bound by Layer.bind: views into the model's parameter and gradient buffers
    W: np.ndarray
    b: np.ndarray
    dW: np.ndarray
    db: np.ndarray

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                 padding: str = "valid", init: str = "he") -> None:
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                   for n in (in_channels, out_channels)):
            raise ValueError("channel counts must be positive ints, got "
                             f"{in_channels!r} in and {out_channels!r} out")
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        check_init(init)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding, self.init_name = padding, init
        kh, kw = self.kernel
        self.param_shapes = ((self.out_channels, self.in_channels, kh, kw), (self.out_channels,))
        self._x_shape: tuple[int, ...] = ()
        self._cols: np.ndarray | None = None  # (C*kh*kw, N*H'*W') from the last training forward

    def init(self, rng: np.random.Generator) -> None:
        INITIALIZERS[self.init_name](self.W, rng)
        self.b[...] = 0

    def _geometry(self, h: int, w: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        return (conv_geometry(h, self.kernel[0], self.stride[0], self.padding),
                conv_geometry(w, self.kernel[1], self.stride[1], self.padding))

    def output_shape(self, input_shape: Shape) -> tuple[int, int, int]:
        """The per-sample output shape (F, H', W') for a per-sample input shape (C, H, W).

        A kernel larger than the image is refused with either padding: with 'same', most of what it
        would see is the zero border.
        """
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError(f"expects ({self.in_channels}, height, width) samples, "
                             f"gets {tuple(input_shape)}")
        (kh, kw), (_, h, w) = self.kernel, input_shape
        if kh > h or kw > w:
            raise ValueError(f"a {kh}x{kw} kernel does not fit in {h}x{w} images")
        (ho, _, _), (wo, _, _) = self._geometry(h, w)
        return self.out_channels, ho, wo

    def flops(self, input_shape: Shape) -> int:
        """F * H' * W' * (2 * C * kh * kw + 1) per sample.

        Per output value, C * kh * kw multiply-adds (the zero border's too, as the GEMM does them)
        and one bias addition.
        """
        f, ho, wo = self.output_shape(input_shape)
        kh, kw = self.kernel
        return f * ho * wo * (2 * self.in_channels * kh * kw + 1)

    def eval_values(self, input_shape: Shape) -> int:
        """The output (twice: the GEMM's, then reordered), the padded input and the columns."""
        c, h, w = input_shape
        f, ho, wo = self.output_shape(input_shape)
        (_, top, bottom), (_, left, right) = self._geometry(h, w)
        padded = c * (h + top + bottom) * (w + left + right)
        return 2 * f * ho * wo + padded + c * self.kernel[0] * self.kernel[1] * ho * wo

    def _padded(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``x`` with its zero border: an (N, C, Hp, Wp) view of (C, N, Hp, Wp) memory, the
        order ``im2col`` writes in, which makes its copies about a fifth faster. In a reused
        buffer in training (the border zeroed, the interior left to ``_fill``), a fresh array
        otherwise; ``x`` itself when there is no border."""
        n, c, h, w = x.shape
        (_, top, bottom), (_, left, right) = self._geometry(h, w)
        if not (top or bottom or left or right):
            return x
        shape = (c, n, h + top + bottom, w + left + right)
        if not training:  # two NumPy calls, not five: what matters for one image
            xp = np.zeros(shape, self.W.dtype)
            xp[:, :, top:top + h, left:left + w] = x.transpose(1, 0, 2, 3)
            return xp.transpose(1, 0, 2, 3)
        xp = self._flat("padded", shape, self.W.dtype)
        # Only the border is zeroed: the interior is overwritten by ``_fill``.
        xp[:, :, :top] = 0
        xp[:, :, top + h:] = 0
        xp[:, :, top:top + h, :left] = 0
        xp[:, :, top:top + h, left + w:] = 0
        return xp.transpose(1, 0, 2, 3)

    def _fill(self, xp: np.ndarray, x: np.ndarray, lo: int, hi: int) -> None:
        """Copy images lo:hi of ``x`` into the interior of ``_padded``'s training buffer."""
        if xp is x:
            return
        h, w = x.shape[2:]
        (_, top, _), (_, left, _) = self._geometry(h, w)
        xp[lo:hi, :, top:top + h, left:left + w] = x[lo:hi]

    def _flat(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A scratch array of ``shape`` whose leading axis is not the batch (``_scratch``
        slices the first axis): the first prod(shape) entries of a cached 1-D array."""
        return self._scratch(name, (math.prod(shape),), dtype).reshape(shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n, c, h, w = x.shape
        (ho, _, _), (wo, _, _) = self._geometry(h, w)
        f, (kh, kw), dtype = self.out_channels, self.kernel, self.W.dtype
        wmat = self.W.reshape(f, c * kh * kw)  # (F, C*kh*kw), a view
        if not training:
            self._cols = None  # backward differentiates the last forward: none here
            return self._forward_eval(x, wmat, ho, wo)
        self._x_shape = x.shape
        xp = self._padded(x, training=True)
        cols = self._flat("cols", (c, kh, kw, n, ho, wo), dtype)
        self._cols = cols.reshape(c * kh * kw, n * ho * wo)  # (C*kh*kw, N*H'*W')
        y = self._flat("out", (f, n * ho * wo), dtype)  # (F, N*H'*W')
        self._columns_and_product(xp, x, wmat, cols, y)
        return y.reshape(f, n, ho, wo).transpose(1, 0, 2, 3)  # (N, F, H', W') view

    def _columns_and_product(self, xp: np.ndarray, x: np.ndarray, wmat: np.ndarray,
                             cols: np.ndarray, y: np.ndarray) -> None:
        """Fill ``cols`` (C, kh, kw, N, H', W') from the padded images and ``y`` (F, N*H'*W')
        with the filters' product plus the bias, block by block of ``threads.BLOCK`` images."""
        hw = cols.shape[4] * cols.shape[5]
        cols2d = cols.reshape(len(wmat.T), -1)

        def block(lo: int, hi: int) -> None:
            self._fill(xp, x, lo, hi)
            im2col(xp[lo:hi], self.kernel, self.stride, cols[:, :, :, lo:hi], split=False)
            part = y[:, lo * hw:hi * hw]
            np.matmul(wmat, cols2d[:, lo * hw:hi * hw], out=part)
            part += self.b[:, None]

        threads.run_blocks(block, len(xp), threads.BLOCK)

    def _forward_eval(self, x: np.ndarray, wmat: np.ndarray, ho: int, wo: int) -> np.ndarray:
        """Evaluation: fresh arrays, the batch taken in chunks that bound the columns' size.
        One chunk is returned as the (N, F, H', W') view of the GEMM's (F, N, H', W') output
        that it is (for one image, that is C-contiguous): no copy."""
        n, c = x.shape[:2]
        f, (kh, kw) = self.out_channels, self.kernel
        step = max(1, EVAL_COLUMN_LIMIT // max(1, c * kh * kw * ho * wo))
        if n <= step:
            return self._eval_chunk(x, wmat, ho, wo).transpose(1, 0, 2, 3)
        y = np.empty((n, f, ho, wo), self.W.dtype)
        for lo in range(0, n, step):
            part = self._eval_chunk(x[lo:lo + step], wmat, ho, wo)  # (F, m, H', W')
            y[lo:lo + step] = part.transpose(1, 0, 2, 3)
        return y

    def _eval_chunk(self, x: np.ndarray, wmat: np.ndarray, ho: int, wo: int) -> np.ndarray:
        """The output for the images ``x`` (m, C, H, W) as (F, m, H', W'), a fresh array."""
        m, c = x.shape[:2]
        f, (kh, kw) = self.out_channels, self.kernel
        xp = self._padded(x, training=False)
        cols = np.empty((c, kh, kw, m, ho, wo), self.W.dtype)
        out = np.empty((f, m * ho * wo), self.W.dtype)
        self._columns_and_product(xp, xp, wmat, cols, out)
        return out.reshape(f, m, ho, wo)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cols is None:
            raise RuntimeError("Conv2D.backward needs a training-mode forward before it "
                               "(and each forward allows one backward)")
        cols, self._cols = self._cols, None
        n, f, ho, wo = grad_out.shape
        hw = ho * wo
        # (F, N, H', W'): the gradient usually arrives in this layer's own output layout
        # or C-contiguous (N, F, H', W'); the swap of the outer axes copies in H'*W' runs.
        gy = grad_out.transpose(1, 0, 2, 3)
        buf = gy if gy.flags.c_contiguous else self._flat("grad", gy.shape, cols.dtype)
        gy2 = buf.reshape(f, n * hw)  # (F, N*H'*W')
        blocks = -(-n // threads.BLOCK)
        # Each block's share of dW^T and db; summed in block order below.
        shares = self._flat("dWT", (blocks, cols.shape[0], f), cols.dtype)
        bias_shares = self._flat("db", (blocks, f), cols.dtype)
        _, c, h, w = self._x_shape
        (_, top, bottom), (_, left, right) = self._geometry(h, w)
        kh, kw = self.kernel
        padded = (c, n, h + top + bottom, w + left + right)
        dxp = self._flat("dx", padded, cols.dtype) if self.needs_input_grad else None
        spread = self._flat("spread", padded, cols.dtype) if self.needs_input_grad else None
        wt = self.W.reshape(f, -1).T  # (C*kh*kw, F)

        def block(lo: int, hi: int) -> None:
            if buf is not gy:
                np.copyto(buf[:, lo:hi], gy[:, lo:hi])
            g, k = gy2[:, lo * hw:hi * hw], lo // threads.BLOCK
            # dW^T = cols @ gy^T, (C*kh*kw, F): OpenBLAS runs this operand order about a
            # fifth faster than gy @ cols^T.
            np.matmul(cols[:, lo * hw:hi * hw], g.T, out=shares[k])
            # Row sums by a reduction: as fast as a GEMV here.
            np.sum(g, axis=1, out=bias_shares[k])
            if dxp is None or spread is None:
                return  # nobody reads the input gradient: skip the largest GEMM and col2im
            # The column gradient overwrites the columns, whose last use was dW just above.
            dcols = np.matmul(wt, g, out=cols[:, lo * hw:hi * hw])  # (C*kh*kw, m*H'*W')
            col2im(dcols.reshape(c, kh, kw, hi - lo, ho, wo), self.stride, dxp[:, lo:hi],
                   spread[:, lo:hi])

        threads.run_blocks(block, n, threads.BLOCK)
        np.copyto(self.dW.reshape(f, -1), np.sum(shares, axis=0).T)  # (F, C*kh*kw) view
        np.sum(bias_shares, axis=0, out=self.db)
        if dxp is None:
            return grad_out[:, :0]
        return dxp[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3)  # (N, C, H, W) view

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``conv:F:K:S:PAD``: the convolution and its ReLU.

        A channel axis is added first to (height, width) images.
        """
        channels = with_channels(input_shape)
        shape = channels[0].output_shape(input_shape) if channels else input_shape
        filters, kernel, stride, padding = values
        # A sample of rows is not an image: the convolution's shape check says so.
        return [*channels, cls(shape[0], filters, kernel, stride, padding), ReLU()]

    def __repr__(self) -> str:
        (kh, kw), (sh, sw) = self.kernel, self.stride
        stride = "" if (sh, sw) == (1, 1) else f", stride {sh}" if sh == sw else \
            f", stride {sh}x{sw}"
        return (f"Conv2D({self.in_channels}, {self.out_channels}, {kh}x{kw}{stride}, "
                f"{self.padding})")

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Conv, with the zero border ``conv_geometry`` gives this input size as explicit pads.

        The pads are (top, left, bottom, right): 'same' puts an odd one after, as ``forward`` does.
        """
        (_, top, bottom), (_, left, right) = self._geometry(*input_shape[1:])
        weights = [graph.constant("W", self.W), graph.constant("b", self.b)]
        return graph.node("Conv", [x, *weights], kernel_shape=list(self.kernel),
                          strides=list(self.stride), pads=[top, left, bottom, right])
