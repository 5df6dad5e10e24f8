"""How well ``predict`` reads MNIST test digits rendered as users' files come, against a plain
MNIST preparation, with each model given.

    mnistnp train --out mlp.npz && mnistnp train --recipe cnn --out cnn.npz
    python benchmarks/render_bench.py --model mlp.npz --model cnn.npz [--n 1000]

For every condition of ``mnistnp.synth.renders`` (clean, drawn, 28x28, degraded, photo, form,
paper) and every model: the accuracy of ``predict``'s preparation
(``mnistnp.images.prepare_digit``, on the file's bytes as ``predict`` opens them) and of the
plain one (``baseline.plain_prepare``), each with its refusals (a refusal counts as not read
right), beside the model's accuracy on the same digits as MNIST stores them. Then each target:
refusals <= 0.2%, never more than 0.5 points below the plain preparation, and on the clean
conditions within 0.5 points of the originals. ``--src`` reads the renders with another tree's
``mnistnp`` (its ``src`` folder), to measure a change; ``--markdown FILE`` also writes the
table.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mnistnp.synth import (  # imported before --src may put another tree's mnistnp first
    baseline,
    renders,
)

REFUSALS, BELOW_PLAIN, BELOW_ORIGINAL = 0.002, 0.005, 0.005  # the targets, as fractions


def prepare_all(job: tuple[str, int, str | None]) -> tuple[str, np.ndarray, np.ndarray,
                                                           np.ndarray, np.ndarray, float]:
    """One condition's renders through both preparations: (name, ours, ours refused, plain,
    plain refused, our seconds per image). Runs in a worker process."""
    name, n, src = job
    use_tree(src)
    from mnistnp import datasets
    from mnistnp.images import prepare_digit

    assert not src or Path(prepare_digit.__code__.co_filename).is_relative_to(src)
    _, (x_test, y_test) = datasets.load("mnist")
    files, _ = renders.render_set(name, x_test, y_test, n)
    return (name, *prepare_files(files, name))


def use_tree(src: str | None) -> None:
    """In a worker process: import ``mnistnp`` from another tree's ``src`` folder from here on
    (this tree's modules already imported, the renders among them, stay as they are)."""
    if src and not sys.path[0] == src:  # this worker's first job
        sys.path.insert(0, src)
        for module in [m for m in sys.modules if m == "mnistnp" or m.startswith("mnistnp.")]:
            del sys.modules[module]


def prepare_files(files: list[bytes], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                            np.ndarray, float]:
    """Image files through both preparations: (ours, ours refused, plain, plain refused, our
    seconds per image); a refused image is left blank."""
    from PIL import Image

    from mnistnp.errors import ImageError
    from mnistnp.images import prepare_digit

    ours = np.zeros((len(files), 28, 28), np.uint8)
    plain = np.zeros_like(ours)
    ours_refused = np.zeros(len(files), bool)
    plain_refused = np.zeros(len(files), bool)
    seconds = 0.0
    for i, data in enumerate(files):
        start = time.perf_counter()
        try:
            ours[i] = prepare_digit(Image.open(io.BytesIO(data)), name)
        except ImageError:
            ours_refused[i] = True
        seconds += time.perf_counter() - start
        seen = baseline.plain_prepare(Image.open(io.BytesIO(data)))
        if seen is None:
            plain_refused[i] = True
        else:
            plain[i] = seen
    return ours, ours_refused, plain, plain_refused, seconds / max(1, len(files))


def saved_preparations(path: str, name: str, n: int) -> tuple[str, np.ndarray, np.ndarray,
                                                              np.ndarray, np.ndarray, float]:
    """One condition's preparations as ``prepare_all`` returns them, read from a ``--save``
    file; SystemExit if the file does not hold the condition's first ``n`` renders."""
    with np.load(path, allow_pickle=False) as saved:
        if f"{name}/ours" not in saved.files or len(saved[f"{name}/ours"]) < n:
            raise SystemExit(f"{path}: holds no {n} prepared renders of {name}")
        plain = saved[f"{name}/plain"][:n]
        # A refusal leaves its image blank, which no image the plain preparation makes is.
        plain_refused = (saved[f"{name}/plain_refused"][:n] if f"{name}/plain_refused"
                         in saved.files else ~plain.any(axis=(1, 2)))
        seconds = float(saved[f"{name}/seconds"]) if f"{name}/seconds" in saved.files else 0.0
        return (name, saved[f"{name}/ours"][:n], saved[f"{name}/ours_refused"][:n], plain,
                plain_refused, seconds)


def read_table(results: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]],
               labels_of: Callable[[str], np.ndarray], models: dict[str, Any]) -> tuple[
                   list[str], list[str]]:
    """The table of ``scans_bench.py`` and ``fonts_bench.py``, whose files have no originals:
    its lines, one per condition prepared (``prepare_files``'s results with the condition's
    name first), for each model ``predict``'s accuracy and refusals and the plain
    preparation's; and the targets missed."""
    top = "| condition | n | " + " | ".join(
        f"{m}: predict % | {m}: refused % | {m}: plain % | {m}: plain refused %"
        for m in models) + " | ms per image |"
    lines = [top, "|" + "---|" * (top.count("|") - 1)]
    failures = []
    for name, ours, ours_refused, plain, plain_refused, seconds in results:
        labels = labels_of(name)
        cells = [name, str(len(labels))]
        for model_name, model in models.items():
            accuracy = float(np.mean((model.predict(ours) == labels) & ~ours_refused))
            plain_accuracy = float(np.mean((model.predict(plain) == labels) & ~plain_refused))
            refused = float(np.mean(ours_refused))
            cells += [f"{100 * accuracy:.1f}", f"{100 * refused:.1f}",
                      f"{100 * plain_accuracy:.1f}", f"{100 * np.mean(plain_refused):.1f}"]
            if refused > REFUSALS:
                failures.append(f"{name} {model_name}: {100 * refused:.1f}% refused")
            if accuracy < plain_accuracy - BELOW_PLAIN:
                failures.append(f"{name} {model_name}: {100 * accuracy:.1f}% against "
                                f"{100 * plain_accuracy:.1f}% plain")
        cells.append(f"{1000 * seconds:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, failures


def print_table(lines: list[str], failures: list[str], markdown: str | None) -> None:
    """The table and the targets missed, and the table again into ``markdown`` if given."""
    table = "\n".join(lines)
    print(table)
    print("\n".join(["targets missed:", *failures]) if failures else "every target met")
    if markdown:
        Path(markdown).write_text(table + "\n")


def parser_for(description: str, conditions: list[str], n: int | None = None,
               n_help: str = "") -> argparse.ArgumentParser:
    """The options this benchmark, ``scans_bench.py`` and ``fonts_bench.py`` share: models,
    digits per condition (where ``n`` is given), conditions, another tree to prepare with,
    workers, a markdown copy of the table."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="a model file (repeat)")
    if n is not None:
        parser.add_argument("--n", type=int, default=n, help=n_help)
    parser.add_argument("--conditions", nargs="+", choices=conditions, default=conditions)
    parser.add_argument("--src", help="another tree's src folder to prepare with")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--markdown", help="also write the table here")
    return parser


def main() -> None:
    parser = parser_for(__doc__ or "", list(renders.CONDITIONS), 1000, "renders per condition")
    parser.add_argument("--save", help="write every prepared image and label to this .npz")
    parser.add_argument("--prepared", help="read the prepared images from a --save file "
                        "instead of preparing them again (to measure a change of the models)")
    args = parser.parse_args()

    from mnistnp import datasets
    from mnistnp.model_file import load_model

    print(f"load average: {os.getloadavg()[0]:.1f}; preparing with "
          f"{args.src or 'this tree'}; {args.n} renders per condition")
    _, (x_test, y_test) = datasets.load("mnist")
    models = {Path(path).stem: load_model(path) for path in args.model}
    if args.prepared:
        results = [saved_preparations(args.prepared, name, args.n) for name in args.conditions]
    else:
        jobs = [(name, args.n, args.src) for name in args.conditions]
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(prepare_all, jobs))
    lines = [_header(models)]
    failures = []
    saved: dict[str, np.ndarray] = {}
    for name, ours, ours_refused, plain, plain_refused, seconds in results:
        group = renders.CONDITIONS[name][0]
        indices = renders.chosen(name, y_test, args.n)
        labels, originals = y_test[indices], x_test[indices]
        cells = [name, group, str(len(labels))]
        for model_name, model in models.items():
            right = model.predict(ours) == labels
            right_plain = model.predict(plain) == labels
            accuracy = float(np.mean(right & ~ours_refused))
            plain_accuracy = float(np.mean(right_plain & ~plain_refused))
            original = float(np.mean(model.predict(originals) == labels))
            refused = float(np.mean(ours_refused))
            cells += [f"{100 * accuracy:.1f}", f"{100 * refused:.1f}",
                      f"{100 * plain_accuracy:.1f}", f"{100 * np.mean(plain_refused):.1f}",
                      f"{100 * original:.1f}"]
            if refused > REFUSALS:
                failures.append(f"{name} {model_name}: {100 * refused:.1f}% refused")
            if accuracy < plain_accuracy - BELOW_PLAIN:
                failures.append(f"{name} {model_name}: {100 * accuracy:.1f}% against "
                                f"{100 * plain_accuracy:.1f}% plain")
            if group in renders.CLEAN_GROUPS and accuracy < original - BELOW_ORIGINAL:
                failures.append(f"{name} {model_name}: {100 * accuracy:.1f}% against "
                                f"{100 * original:.1f}% on the originals")
        cells.append(f"{1000 * seconds:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        saved[f"{name}/ours"], saved[f"{name}/plain"] = ours, plain
        saved[f"{name}/ours_refused"], saved[f"{name}/labels"] = ours_refused, labels
        saved[f"{name}/plain_refused"], saved[f"{name}/seconds"] = plain_refused, np.array(seconds)
    table = "\n".join(lines)
    print(table)
    print("\n".join(["targets missed:", *failures]) if failures else "every target met")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    if args.save:
        np.savez_compressed(args.save, **saved)


def _header(models: dict[str, object]) -> str:
    top = "| condition | group | n | " + " | ".join(
        f"{m}: predict % | {m}: refused % | {m}: plain % | {m}: plain refused % | "
        f"{m}: originals %" for m in models) + " | ms per image |"
    return top + "\n|" + "---|" * (top.count("|") - 1)


if __name__ == "__main__":
    main()
