"""``mnistnp export``: write a saved model as an ONNX file (``onnx_export.export_onnx``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..atomic import check_writable
from ..errors import ExportError, MnistnpError
from ..model_file import load_model
from ..onnx_export import BATCH, INPUT, OPSET, OUTPUTS, export_onnx, require_onnx, trace


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "export", help="write a model as an ONNX file",
        description=f"Write a saved model as an ONNX file (opset {OPSET}) for onnxruntime or any "
        f"other ONNX runtime: input '{INPUT}', the model's own (uint8 pixels 0-255, "
        f"({BATCH}, 28, 28) for MNIST, any batch size), outputs 'probabilities' and 'logits' "
        f"({BATCH}, classes). Training-only layers (dropout, random shifts and affine "
        "transforms) are left out; the model file's record (dataset, test accuracy, recipe, "
        "settings, mnistnp version) goes into the ONNX metadata. Needs the onnx package: "
        "pip install 'mnistnp[onnx]'. Nothing is written if anything fails, and a file "
        "already at OUT.onnx is then left as it was.")
    parser.add_argument("model", type=Path, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    parser.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx",
                        help="the ONNX file to write (replaced if it exists)")
    return parser


def run(args: argparse.Namespace) -> int:
    require_onnx()  # before reading anything: say what to install first
    model = load_model(args.model)
    why = check_writable(args.onnx)
    if why is None and args.onnx.exists() and args.onnx.resolve() == args.model.resolve():
        why = "is the model file itself; give the ONNX file another name"
    if why:
        raise MnistnpError(f"--onnx {args.onnx}: {why}")
    try:
        export_onnx(model, args.onnx)
    except ExportError as e:
        raise ExportError(f"{args.model}: {e}") from None
    shape = ", ".join(map(str, (BATCH, *model.input_shape)))
    kind = "uint8" if model.takes_pixels else model.dtype.name
    print(f"{args.onnx}: ONNX opset {OPSET}, input {INPUT} {kind} ({shape}), outputs "
          f"{' and '.join(OUTPUTS)} {model.dtype.name} ({BATCH}, {model.num_classes})")
    left_out = trace(model).left_out
    if left_out:
        print(f"left out (training only): {', '.join(left_out)}")
    return 0
