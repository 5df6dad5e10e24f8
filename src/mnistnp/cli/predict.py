"""``mnistnp predict``: classify image files with a saved model, one line (or JSON object) each."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import datasets
from ..errors import MnistnpError
from ..images import FORMAT_NAMES, SUFFIXES
from ..model_file import load_model
from ..sources import check_input, refits, trained_on
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "predict", help="classify image files",
        description="Print '<path>: <class> (p=0.97)' for each image. Images are PNG, JPEG, WebP, "
        "BMP, GIF or TIFF, "
        "any size or mode: a drawing, a scan or a photo of a digit, a dark digit on light "
        "paper or a light digit on dark, white strokes on a clear canvas. Each is prepared "
        "the MNIST way: the digit found (on plain paper by a threshold; in a photo with "
        "shadows, uneven light and a table around the paper left out), fitted into 20x20 and "
        "centred in 28x28 by its centre of mass; a 28x28 light-on-black image is used as it is "
        "if it is already framed so (or, for a model of a dataset other than MNIST, whatever "
        "its framing). An image that cannot be read or holds no "
        "single digit gets one line on standard error and exit status 1; the others are still "
        "classified.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help=f"image files ({FORMAT_NAMES}); a folder, for the image files in "
                        "it (sorted by name); or -, for paths read from standard input, one a "
                        "line")
    parser.add_argument("--top-k", type=opt.positive_int, default=1, metavar="K",
                        help="print the K most likely classes, most likely first (default: 1)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object a line, with path, prediction (the class "
                        "number), label (its name), probability, top_k (a list of {class, label, "
                        "probability}) and, with --show, input; for an image that failed, "
                        "{path, error} instead (the error also goes to standard error)")
    parser.add_argument("--show", type=Path, metavar="DIR",
                        help="save the 28x28 image the model saw as DIR/<image name>.png "
                        "(DIR is created; a name already taken gets -2, -3, ...) and print "
                        "where")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..images import load_digit

    model = load_model(args.model)
    check_input(args.model, model, (28, 28))
    if args.top_k > model.num_classes:
        raise opt.UsageError(f"argument --top-k: expected at most {model.num_classes} (the "
                             f"model's classes), got {args.top_k}")
    if args.show:
        _make_folder(args.show)
    names = datasets.class_names(trained_on(model.info), model.num_classes)
    refit = refits(model)
    status = 0
    for path in image_paths(args.images):
        try:
            if isinstance(path, NoImages):
                raise path
            image = load_digit(path, refit)
        except MnistnpError as e:
            print(f"mnistnp: error: {e}", file=sys.stderr, flush=True)
            if args.json:  # every input gets its line, so a reader can pair them up
                name = path.path if isinstance(path, NoImages) else path
                print(json.dumps({"path": name, "error": str(e).removeprefix(f"{name}: ")},
                                 ensure_ascii=False), flush=True)
            status = 1
            continue
        p = model.predict_proba(image[None])[0]
        shown = _save_png(image, args.show, Path(path).stem) if args.show else None
        print(_answer(str(path), p, args.top_k, names, shown, args.json), flush=True)
    return status


def _answer(path: str, p: np.ndarray, k: int, names: Sequence[str], shown: Path | None,
            as_json: bool) -> str:
    """One image's line: its K likeliest classes, likeliest first (ties by class number)."""
    top = [int(c) for c in np.argsort(-p, kind="stable")[:k]]
    if not as_json:
        line = f"{path}: " + ", ".join(f"{names[c]} (p={p[c]:.2f})" for c in top)
        return f"{line}; input saved as {shown}" if shown else line
    ranked = [{"class": c, "label": names[c], "probability": round(float(p[c]), 6)} for c in top]
    record: dict[str, Any] = {"path": path, "prediction": top[0], "label": names[top[0]],
                              "probability": ranked[0]["probability"], "top_k": ranked}
    if shown:
        record["input"] = str(shown)
    return json.dumps(record, ensure_ascii=False)

class NoImages(MnistnpError):
    """An input that names no image (a folder without any, an empty standard input): ``path``
    is the input as given."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path


def image_paths(items: Iterable[str]) -> Iterator[str | NoImages]:
    """The images named: each path as given, a folder's image files sorted by name, and
    for '-' the paths on standard input, one a line. A folder without images, or a '-' with
    no paths, yields a NoImages error."""
    for item in items:
        if item == "-":
            given = False
            for line in sys.stdin:  # each path answered as it comes, for a pipe left open
                line = line.rstrip("\r\n")
                if line and line != "-":
                    given = True
                    yield from _expand(line)
            if not given:
                yield NoImages("-", "no image paths on standard input (give one a line, or "
                               "name the images as arguments)")
        else:
            yield from _expand(item)


def _expand(item: str) -> Iterator[str | NoImages]:
    if not os.path.isdir(item):
        yield item
        return
    found = sorted(entry.name for entry in os.scandir(item)
                   if entry.name.lower().endswith(SUFFIXES)
                   and not entry.name.startswith(".") and entry.is_file())
    if not found:
        yield NoImages(item, f"a folder with no image files in it ({FORMAT_NAMES})")
    for name in found:
        yield os.path.join(item, name)


def _make_folder(folder: Path) -> None:
    """Create ``folder`` for --show, or say in one line why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MnistnpError(f"--show {folder}: exists and is not a folder") from None
    except OSError as e:
        raise MnistnpError(f"--show {folder}: cannot create the folder "
                           f"({e.strerror or e})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MnistnpError(f"--show {folder}: the folder is not writable")


def _save_png(image: np.ndarray, folder: Path, stem: str) -> Path:
    """Write ``image`` as a new PNG in ``folder``, named for ``stem``; never over a file."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    for n in range(1, 1_000_000):
        path = folder / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        try:
            with open(path, "xb") as f:  # exclusive: a file already there is left alone
                try:
                    f.write(buffer.getvalue())  # a few hundred bytes, in one write
                except BaseException:
                    path.unlink()
                    raise
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise MnistnpError(f"--show {path}: cannot write ({e.strerror or e})") from None
    raise MnistnpError(f"--show {folder}: no free name for {stem}.png")
