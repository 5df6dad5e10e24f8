"""``mnistnp plot``: a model's evaluation pictures (confusion matrix, most confident mistakes,
first layer, reliability diagram) as PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..evaluation import open_subject
from ..pictures import draw_pictures
from ..report import picture_label
from . import options as opt
from .evaluate import scored


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("plot", help="draw a saved model's evaluation pictures",
                            description="Score a model on its dataset's test split and write "
                            "its pictures as PNG: confusion_matrix.png, mistakes.png (the most "
                            "confident mistakes), first_layer.png (what its first layer with "
                            "weights learned) and reliability.png (confidence against "
                            "accuracy, with the expected calibration error). Prints each file "
                            "written, and a line for a picture that cannot be drawn.")
    parser.add_argument("target", type=Path, metavar="MODEL_OR_RUN_DIR",
                        help="a model file written by 'mnistnp train', or a run folder (its "
                        "model.npz)")
    parser.add_argument("--out", type=opt.folder, metavar="DIR",
                        help="the folder to write them in, made if missing (default: the run "
                        "folder, or the model file's folder)")
    opt.add_data_options(parser, default="the dataset the model was trained on")
    return parser


def run(args: argparse.Namespace) -> int:
    subject = open_subject(args.target)
    _, evaluation = scored(args, subject.model, subject.model_path)
    label = picture_label(subject.model, subject.model_path, evaluation, subject.run_dir)
    pictures = draw_pictures(subject.model, evaluation, label)
    out = args.out or subject.folder
    out.mkdir(parents=True, exist_ok=True)
    for path in pictures.write(out):
        print(f"wrote {path}")
    for line in pictures.skipped:
        print(f"not drawn: {line}")
    return 0
