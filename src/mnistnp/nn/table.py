"""Text tables of a model's layers (``table``) and their cells (``batch_shape``, ``byte_size``),
as ``Sequential.summary`` and ``mnistnp info`` print them."""

from __future__ import annotations

from collections.abc import Sequence


def batch_shape(shape: Sequence[int]) -> str:
    """'(N, 28, 28)': a batch of samples of ``shape``, for tables."""
    return "(N, " + ", ".join(map(str, shape)) + ")"


def byte_size(nbytes: int) -> str:
    """'175.2 KiB', '3.3 MiB'."""
    kib = nbytes / 1024
    return f"{kib:,.1f} KiB" if kib < 1024 else f"{kib / 1024:,.1f} MiB"


def table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 2) -> list[str]:
    """The lines of a text table: ``head``, a rule, ``rows``, a rule. Cells are strings; the
    first ``left`` columns are aligned left, the others (numbers) right, two spaces apart."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:<{w}}" if i < left else f"{c:>{w}}"
                         for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [line(head), rule, *map(line, rows), rule]
