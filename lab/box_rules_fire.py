"""Where the rules for a form's box fire on the benchmarks' own inputs: ``plain.inside_box``
(lines along the edges cut off), ``plain._frames`` (a box with paper around it left out) and
``plain._box_lines`` (the lines of such a box that the digit touches left out); with
``--rules ruled``, where ``ruled.unruled`` (the lines of ruled or squared paper taken out) does.

    python lab/box_rules_fire.py [--rules box|ruled] [--only render|scan|typed] [--n 1000]
        [--fonts DIR ...]

For every condition of the render benchmark (``--n`` digits each), the seven of the real scans
(all 1,797 each) and the four of the typed digits (matplotlib's faces and any ``--fonts``),
prints how many inputs any rule changed. Where none fires, ``predict``'s preparation is
the same bytes as without them: a count of 0 says the condition reads exactly as before.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from multiprocessing import Pool
from typing import Any

import numpy as np
from bench_inputs import Job, inputs, jobs
from PIL import Image

from mnistnp import plain, ruled
from mnistnp.errors import ImageError
from mnistnp.images import prepare_digit

FIRED: list[str] = []


def _watch(module: Any, name: str, fired: Callable[[Any, Any], bool]) -> None:
    """Count in FIRED each call of ``module.<name>`` for which ``fired(result, first arg)``."""
    rule = getattr(module, name)

    def watched(*args: Any) -> Any:
        out = rule(*args)
        if fired(out, args[0]):
            FIRED.append(name)
        return out
    setattr(module, name, watched)


def count(job: Job) -> tuple[str, str, int, int]:
    files, _ = inputs(job)
    changed = 0
    for data in files:
        before = len(FIRED)
        try:
            prepare_digit(Image.open(io.BytesIO(data)), "render")
        except ImageError:
            pass
        changed += len(FIRED) > before
    return job[0], job[1], len(files), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="renders per condition")
    parser.add_argument("--fonts", nargs="*", default=[], help="folders of more font files")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rules", choices=["box", "ruled"], default="box")
    parser.add_argument("--only", choices=["render", "scan", "typed"],
                        help="only the inputs of this kind")
    args = parser.parse_args()
    if args.rules == "box":
        _watch(plain, "inside_box", lambda out, grey: out is not grey)
        _watch(plain, "_frames", lambda out, _: bool(out))
        _watch(plain, "_box_lines", lambda out, _: out is not None)
    else:
        _watch(ruled, "unruled", lambda out, grey: out is not grey)
    total = np.zeros(2, int)
    with Pool(args.workers) as pool:  # the workers start with the rules watched
        chosen = [job for job in jobs(args.n, args.fonts) if args.only in (None, job[0])]
        for kind, name, n, changed in pool.imap(count, chosen):
            print(f"{kind:6s} {name:16s} {n:5d} inputs, changed by a {args.rules} rule: {changed}",
                  flush=True)
            total += (n, changed)
    print(f"all    {total[0]} inputs, changed: {total[1]}")


if __name__ == "__main__":
    main()
