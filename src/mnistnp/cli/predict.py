"""``mnistnp predict``: classify image files with a saved model, one line per image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MnistnpError
from ..io import load_model
from ..sources import check_input


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("predict", help="classify image files",
                            description="Print '<path>: <digit> (p=0.97)' for each image. Images "
                            "are PNG or JPEG of any size or mode, a dark digit on light paper or "
                            "a light digit on dark; each is prepared the MNIST way: made grey "
                            "and light-on-dark, fitted into 20x20 and centred in 28x28 by its "
                            "centre of mass.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="PNG or JPEG files")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..images import load_digit

    model = load_model(args.model)
    check_input(args.model, model, (28, 28))
    status = 0
    for path in args.images:
        try:
            image = load_digit(path)
        except MnistnpError as e:
            print(f"mnistnp: error: {e}", file=sys.stderr)
            status = 1
            continue
        p = model.predict_proba(image[None])[0]
        print(f"{path}: {int(np.argmax(p))} (p={p.max():.2f})", flush=True)
    return status
