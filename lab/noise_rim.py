"""Whether the plain path's noise measure should leave out the paper beside the ink: on every
input of the render benchmark, the real scans and the typed digits (``bench_inputs``),
``predict``'s preparation with ``plain._noise`` as it is and with the measure of before
(neighbouring paper pixels, the one-pixel rim beside the strokes included).

    python lab/noise_rim.py mlp.npz cnn.npz [--n 1000] [--fonts DIR ...]

Prints, per condition, how many inputs the two prepare differently, and among those how many
each model reads right (a refusal counts as wrong) before > after.
"""

from __future__ import annotations

import argparse
import io
from multiprocessing import Pool

import numpy as np
from bench_inputs import Job, inputs, jobs
from PIL import Image

from mnistnp import load_model, plain
from mnistnp.errors import ImageError
from mnistnp.images import prepare_digit

NOW = plain._noise


def before(a: np.ndarray, ink: np.ndarray) -> float:
    """The measure of before: neighbouring paper pixels, across and down, whichever is less."""
    sigmas = []
    for axis in (0, 1):
        both = ~ink & (np.diff(ink, axis=axis, prepend=True) == 0)
        if both.sum() >= 64:
            steps = np.abs(np.diff(a, axis=axis, prepend=a.take([0], axis=axis)))
            sigmas.append(1.4826 * float(np.median(steps[both])) / np.sqrt(2))
    return min(sigmas, default=0.0)


def prepared(data: bytes) -> np.ndarray | None:
    try:
        return prepare_digit(Image.open(io.BytesIO(data)), "render")
    except ImageError:
        return None


def compare(job_and_models: tuple[Job, list[str]]) -> tuple[str, str, int, list[str]]:
    job, model_files = job_and_models
    files, labels = inputs(job)
    models = [load_model(path) for path in model_files]
    olds, news, which = [], [], []
    for i, data in enumerate(files):
        plain._noise = before
        old = prepared(data)
        plain._noise = NOW
        new = prepared(data)
        if (old is None) != (new is None) or (old is not None and new is not None
                                              and not np.array_equal(old, new)):
            olds.append(old)
            news.append(new)
            which.append(i)
    reads = []
    for model in models:
        right = [0, 0]
        for k, (old, new) in enumerate(zip(olds, news)):
            for j, image in enumerate((old, new)):
                if image is not None:
                    right[j] += int(model.predict(image[None])[0] == labels[which[k]])
        reads.append(f"{right[0]} > {right[1]}")
    return job[0], job[1], len(files), [str(len(which)), *reads]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files")
    parser.add_argument("--n", type=int, default=1000, help="renders per condition")
    parser.add_argument("--fonts", nargs="*", default=[], help="folders of more font files")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print("kind   condition        inputs  prepared differently  right before > after, "
          "each model")
    with Pool(args.workers) as pool:
        work = [(job, args.models) for job in jobs(args.n, args.fonts)]
        for kind, name, n, cells in pool.imap(compare, work):
            print(f"{kind:6s} {name:16s} {n:5d}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
