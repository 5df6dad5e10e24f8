"""``mnistnp report``: a model's or run's report as one self-contained HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..atomic import check_writable
from ..errors import MnistnpError
from ..evaluation import open_subject
from ..pictures import draw_pictures
from ..report import REPORT, ReportInputs, picture_label, write_report
from . import options as opt
from .evaluate import scored


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", help="write a saved model's or run's HTML report",
                            description="Score a model on its dataset's test split and write "
                            "one HTML file, its pictures embedded (no network, no script): "
                            "the settings and command, the dataset and its checksums, the "
                            "architecture, train/validation/test and per-class accuracy, the "
                            "pictures of 'mnistnp plot' and the learning curve, time and "
                            "samples/s per epoch, and the environment. Prints the file "
                            "written.")
    parser.add_argument("target", type=Path, metavar="MODEL_OR_RUN_DIR",
                        help="a model file written by 'mnistnp train', or a run folder (its "
                        "model.npz, settings.json, metrics.jsonl and learning curve)")
    parser.add_argument("--out", type=Path, metavar="FILE.html",
                        help=f"where to write it (default: {REPORT} in the run folder, or "
                        "MODEL-report.html beside the model file)")
    opt.add_data_options(parser, default="the dataset the model was trained on")
    return parser


def run(args: argparse.Namespace) -> int:
    subject = open_subject(args.target)
    out = args.out or (subject.run_dir / REPORT if subject.run_dir is not None else
                       subject.model_path.with_name(f"{subject.model_path.stem}-report.html"))
    problem = check_writable(out)
    if problem:
        raise MnistnpError(f"{out}: {problem}")
    source, evaluation = scored(args, subject.model, subject.model_path)
    label = picture_label(subject.model, subject.model_path, evaluation, subject.run_dir)
    curve = subject.learning_curve
    inputs = ReportInputs(subject.model, subject.model_path, evaluation, source,
                          draw_pictures(subject.model, evaluation, label), label,
                          subject.settings, subject.epochs,
                          None if curve is None else curve.read_bytes())
    write_report(out, inputs)
    print(f"wrote {out}")
    return 0
