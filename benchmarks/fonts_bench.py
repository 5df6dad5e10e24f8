"""How well ``predict`` reads typed digits, against the plain MNIST preparation, with each model
given: 0-9 set in real typefaces (``mnistnp.synth.fonts``), as print, as small screenshot text,
light on dark and on a clear canvas.

    mnistnp train --out mlp.npz && mnistnp train --recipe cnn --out cnn.npz
    python benchmarks/fonts_bench.py --model mlp.npz --model cnn.npz \\
        [--fonts /usr/share/fonts/truetype/humor-sans ...]

The typefaces are matplotlib's (always installed) and those under each ``--fonts`` path (a
font file, or a folder searched for .ttf and .otf files). For every condition and model: the
accuracy of ``predict``'s preparation and of the plain one (``baseline.plain_prepare``), each
with its refusals (a refusal counts as not read right); then the targets that hold for any set
of users' files: refusals <= 0.2%, never more than 0.5 points below the plain preparation.
Models trained on handwriting read some typefaces' digits poorly whichever way they are cut
out (a serif 1, a 4 open at the top): the comparison is between the preparations, and
``--faces`` lists, per typeface, where the two differ.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from render_bench import parser_for, prepare_files, print_table, read_table, use_tree

from mnistnp.synth import fonts

FONT_SUFFIXES = (".ttf", ".otf")


def font_paths(given: list[str]) -> list[Path]:
    """matplotlib's faces, then every font file given or under a folder given, in name order."""
    found = fonts.bundled_fonts()
    for entry in map(Path, given):
        if entry.is_dir():
            found += sorted(p for p in entry.rglob("*") if p.suffix.lower() in FONT_SUFFIXES)
        elif entry.suffix.lower() in FONT_SUFFIXES and entry.is_file():
            found.append(entry)
        else:
            raise SystemExit(f"--fonts {entry}: not a .ttf or .otf file or a folder")
    return found


def prepare_condition(job: tuple[str, list[Path], str | None]) -> tuple[
        str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One condition's typed digits through both preparations. Runs in a worker process."""
    name, faces, src = job
    files, _, _ = fonts.render_set(name, faces)
    use_tree(src)
    return (name, *prepare_files(files, name))


def main() -> None:
    parser = parser_for(__doc__ or "", list(fonts.CONDITIONS))
    parser.add_argument("--fonts", nargs="+", default=[],
                        help="more font files, or folders of them, beside matplotlib's")
    parser.add_argument("--faces", action="store_true",
                        help="also list, per model and typeface, the digits read right by "
                             "each preparation where the two differ")
    args = parser.parse_args()

    from mnistnp.model_file import load_model

    faces = font_paths(args.fonts)
    labelled = {name: fonts.labelled(name, faces) for name in args.conditions}
    print(f"load average: {os.getloadavg()[0]:.1f}; preparing with {args.src or 'this tree'}; "
          f"{len(faces)} typefaces ({', '.join(sorted({p.stem for p in faces}))})")
    models = {Path(path).stem: load_model(path) for path in args.model}
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(prepare_condition,
                                [(c, faces, args.src) for c in args.conditions]))
    print_table(*read_table(results, lambda name: labelled[name][0], models), args.markdown)
    if args.faces:
        for model_name, model in models.items():
            ours_right, plain_right, total = Counter(), Counter(), Counter()
            for name, ours, ours_refused, plain, plain_refused, _ in results:
                labels, face_of = labelled[name]
                right = (model.predict(ours) == labels) & ~ours_refused
                right_plain = (model.predict(plain) == labels) & ~plain_refused
                for face, a, b in zip(face_of, right, right_plain, strict=True):
                    ours_right[face] += int(a)
                    plain_right[face] += int(b)
                    total[face] += 1
            for face in sorted(total):
                if ours_right[face] != plain_right[face]:
                    print(f"{model_name} {face}: {ours_right[face]} of {total[face]} right, "
                          f"plain {plain_right[face]}")


if __name__ == "__main__":
    main()
