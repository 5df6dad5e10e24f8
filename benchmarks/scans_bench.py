"""How well ``predict`` reads real low-resolution scans that are not MNIST, against the plain
MNIST preparation, with each model given: scikit-learn's 8x8 digits (``mnistnp.synth.scans``),
dark on light, enlarged 4-8x (or to any side of 20-64 px) as grey, RGB or RGBA files.

    mnistnp train --out mlp.npz && mnistnp train --recipe cnn --out cnn.npz
    python benchmarks/scans_bench.py --model mlp.npz --model cnn.npz [--n 1797]

For every condition and model: the accuracy of ``predict``'s preparation and of the plain one
(``baseline.plain_prepare``), each with its refusals (a refusal counts as not read right). Then
the targets that hold for any set of users' files: refusals <= 0.2%, never more than 0.5
points below the plain preparation. These digits have no 28x28 originals to compare with.
``--src`` prepares with another tree's ``mnistnp`` (its ``src`` folder), to measure a change.
Needs scikit-learn (``pip install 'mnistnp[sklearn]'``), which ships the digits.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from render_bench import parser_for, prepare_files, print_table, read_table, use_tree

from mnistnp.synth import scans


def prepare_condition(job: tuple[str, int, str | None]) -> tuple[
        str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One condition's renders through both preparations. Runs in a worker process."""
    name, n, src = job
    cells, _ = scans.load()
    files = scans.render_set(name, cells, n)
    use_tree(src)
    return (name, *prepare_files(files, name))


def main() -> None:
    parser = parser_for(__doc__ or "", list(scans.CONDITIONS), 1797,
                        "digits per condition (at most 1797)")
    args = parser.parse_args()
    if not 1 <= args.n <= 1797:
        parser.error(f"--n: must be 1-1797 (the digits scikit-learn ships), got {args.n}")

    from mnistnp.model_file import load_model

    _, labels = scans.load()
    labels = labels[:args.n]
    print(f"load average: {os.getloadavg()[0]:.1f}; preparing with {args.src or 'this tree'}; "
          f"{len(labels)} of scikit-learn's digits per condition")
    models = {Path(path).stem: load_model(path) for path in args.model}
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(prepare_condition,
                                [(c, args.n, args.src) for c in args.conditions]))
    print_table(*read_table(results, lambda name: labels, models), args.markdown)


if __name__ == "__main__":
    main()
