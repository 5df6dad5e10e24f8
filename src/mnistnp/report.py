"""A run report: one self-contained HTML file (pictures embedded as data URLs, no script, no
network) with a model's settings, data, architecture, accuracies, pictures, speed per epoch and
the environment it was written in."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import platform
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .atomic import atomic_write
from .data.idx import read_bytes
from .describe import describe
from .evaluation import Evaluation, evaluate, test_split_name
from .model_info import ModelInfo
from .nn import Sequential
from .pictures import PICTURES, Pictures, draw_pictures
from .run_folder import REPORT
from .sources import DataSource
from .version import __version__

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid
#ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.2em 0.8em;
border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.v { overflow-wrap: anywhere; }
td.n, th.n, td.s { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.s { text-align: left; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; background: #f4f4f4; }
pre { padding: 0.6em; white-space: pre-wrap; word-break: break-all; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; border: 1px solid #ddd; }
.note { color: #666; }
"""


@dataclass
class ReportInputs:
    """Everything a report shows, gathered by its caller.

    ``epochs`` are the per-epoch records of metrics.jsonl (``History.record``); ``settings``
    the run's settings.json ({} for a model file alone); ``pictures`` the evaluation
    pictures and ``learning_curve`` the curve's PNG bytes, if there is one.
    """

    model: Sequential
    model_path: Path
    evaluation: Evaluation
    source: DataSource
    pictures: Pictures
    label: str
    settings: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    learning_curve: bytes | None = None


def picture_label(model: Sequential, model_path: Path, evaluation: Evaluation,
                  run_dir: Path | None = None) -> str:
    """Which model, on which data, for the pictures' titles: "run-3/model.npz: recipe cnn,
    seed 0, 861,706 parameters; mnist's test split, 10,000 images"."""
    info = ModelInfo(model.info)
    name = model_path.name if run_dir is None or model_path.parent != run_dir \
        else f"{run_dir.name}/{model_path.name}"
    made = [f"recipe {info.recipe}" if info.recipe else "",
            f"seed {info.seed}" if info.seed is not None else "",
            f"{model.num_params:,} parameters"]
    return (f"{name}: {', '.join(m for m in made if m)}; {evaluation.data}, "
            f"{len(evaluation.labels):,} images")


def write_run_report(model: Sequential, model_path: Path, test: tuple[np.ndarray, np.ndarray],
                     source: DataSource, folder: Path, *, settings: dict[str, Any],
                     epochs: list[dict[str, Any]], curve: Path | None) -> Pictures:
    """What the end of a run adds to its ``folder``: ``model`` (saved at ``model_path``)
    scored on ``test`` (images (n, ...), labels (n,)) of ``source``, its pictures and
    report.html (with ``settings``, the ``epochs`` records and the ``curve`` PNG file, when
    it is one). Returns the pictures (their ``skipped`` lines say what was not drawn)."""
    names = datasets.class_names(source.registered, model.num_classes)
    evaluation = evaluate(model, *test, names, test_split_name(source))
    label = picture_label(model, model_path, evaluation, folder)
    pictures = draw_pictures(model, evaluation, label)
    pictures.write(folder)
    png = curve.read_bytes() if curve is not None and curve.suffix.lower() == ".png" \
        and curve.is_file() else None
    write_report(folder / REPORT, ReportInputs(model, model_path, evaluation, source, pictures,
                                               label, settings, epochs, png))
    return pictures


def write_report(path: str | os.PathLike[str], inputs: ReportInputs) -> None:
    """Write the report of ``inputs`` to ``path`` (atomically)."""
    text = report_html(inputs)
    with atomic_write(path, "w") as f:
        f.write(text)


def report_html(inputs: ReportInputs) -> str:
    """The report as one HTML document (UTF-8 text)."""
    info = ModelInfo(inputs.model.info)
    parts = [f"<h1>{_e(inputs.model_path.name)}: test accuracy "
             f"{100 * inputs.evaluation.accuracy:.2f}%</h1>",
             f"<p class=note>{_e(inputs.label)}</p>",
             "<h2>Settings</h2>", _settings(inputs.settings, info),
             "<h2>Data</h2>", _dataset(inputs.source, inputs.evaluation),
             "<h2>Architecture</h2>", _architecture(inputs.model),
             "<h2>Accuracy</h2>", _accuracies(info, inputs.evaluation),
             "<h2>Per-class accuracy</h2>", _per_class(inputs.evaluation),
             "<h2>Pictures</h2>", _pictures(inputs.pictures, inputs.learning_curve),
             "<h2>Time per epoch</h2>", _epochs(inputs.epochs, info),
             "<h2>Environment</h2>",
             "<p class=note>Where this report was written.</p>", _table(environment().items())]
    return ("<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
            f"<title>{_e(inputs.model_path.name)}: mnistnp report</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(parts)
            + "\n</body>\n</html>\n")


def architecture_rows(model: Sequential) -> list[dict[str, Any]]:
    """One row per layer, from ``describe`` (what each layer says of itself, as ``mnistnp
    info`` shows it): ``name`` (its repr), ``kind``, ``output_shape`` (one sample's, a tuple),
    ``parameters`` (int), ``state`` (the shapes of its saved, untrained arrays) and ``flops``
    (per sample in inference; None for a kind that gives no count)."""
    return [{"name": row["name"], "kind": row["kind"],
             "output_shape": tuple(row["output_shape"]), "parameters": row["parameters"],
             "state": {k: tuple(v) for k, v in row["state_shapes"].items()},
             "flops": row["flops"]}
            for row in describe(model)["layers"]]


def environment() -> dict[str, str]:
    """Python, NumPy, its BLAS (library, version, and the kernel and threads threadpoolctl
    reports, when it is installed), the CPU count and mnistnp's version, as text."""
    from .nn import threads

    env = {"mnistnp": __version__,
           "Python": f"{platform.python_implementation()} {platform.python_version()}",
           "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
           "NumPy": np.__version__, "BLAS": _blas_build(), "BLAS kernel": _blas_kernel(),
           "CPUs": str(os.cpu_count()),
           "mnistnp threads": str(threads.num_threads())}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "MNISTNP_NUM_THREADS"):
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def _blas_build() -> str:
    """The BLAS NumPy was built against, as ``numpy.show_config`` reports it."""
    try:
        config: Any = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # an older NumPy's show_config has no dicts
        return "unknown"


def _blas_kernel() -> str:
    """The BLAS loaded now, its kernel and threads (threadpoolctl, only if importable)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see it)"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')}, kernel "
                     f"{i.get('architecture')}, {i.get('num_threads')} threads"
                     for i in blas) or "none loaded"


def dataset_files(source: DataSource) -> list[tuple[str, str]]:
    """The name and SHA-256 (of the decompressed bytes) of each of the dataset's four
    files, as ``sha256sum`` gives them for the unzipped files; [] if they cannot be found."""
    try:
        folder = datasets.locate(source.name, source.data_dir)
    except datasets.DatasetError:
        return []
    rows = []
    for stem in datasets.FILES:
        path = next((folder / n for n in (stem, f"{stem}.gz", stem.replace("-idx", ".idx"),
                                          stem.replace("-idx", ".idx") + ".gz")
                     if (folder / n).is_file()), None)
        if path is not None:
            rows.append((path.name, hashlib.sha256(read_bytes(path)).hexdigest()))
    return rows


def _settings(settings: Mapping[str, Any], info: ModelInfo) -> str:
    command = settings.get("command")
    out = [f"<p>Command: <code>{_e(shlex.join(map(str, command)))}</code></p>"
           if isinstance(command, list) else
           "<p class=note>The command is not recorded (a model file alone).</p>"]
    for resume in settings.get("resumed") or []:
        if isinstance(resume, dict) and isinstance(resume.get("command"), list):
            out.append(f"<p>Resumed at epoch {_e(resume.get('at_epoch'))}: "
                       f"<code>{_e(shlex.join(map(str, resume['command'])))}</code></p>")
    config = settings.get("config")
    config = config if isinstance(config, dict) else info.config
    rows = [("recipe", settings.get("recipe", info.recipe)), *_flat(config)]
    out.append(_table((k, _setting(v)) for k, v in rows))
    return "\n".join(out)


def _setting(value: Any) -> Any:
    """A setting as the table shows it: "none" for unset, floats to 6 digits (0.0833333)."""
    if value is None:
        return "none"
    return f"{value:.6g}" if isinstance(value, float) else value


def _flat(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as (dotted name, value) pairs: optimizer.lr."""
    rows: list[tuple[str, Any]] = []
    for key, value in config.items():
        if isinstance(value, dict):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((prefix + key, value))
    return rows


def _dataset(source: DataSource, evaluation: Evaluation) -> str:
    rows: list[tuple[str, Any]] = [("dataset", source), ("scored on", evaluation.data),
                                   ("test images", f"{len(evaluation.labels):,}")]
    files = dataset_files(source)
    checked = "checked against the registered checksums on load" if source.registered \
        else "computed now"
    table = "".join(f"<tr><td>{_e(name)}</td><td><code>{_e(digest)}</code></td></tr>"
                    for name, digest in files)
    found = (f"<p>SHA-256 of each decompressed file ({checked}):</p><table>{table}</table>"
             if files else "<p class=note>The dataset's files were not found.</p>")
    return _table(rows) + found


def _architecture(model: Sequential) -> str:
    rows = architecture_rows(model)
    head = ("<tr><th>#</th><th>layer</th><th>kind</th><th>output shape</th>"
            "<th class=n>parameters</th><th class=n>FLOPs</th><th>state</th></tr>")
    body = [f"<tr><td></td><td>input</td><td></td><td class=s>{_shape(model.input_shape)}</td>"
            f"<td class=n>0</td><td class=n></td><td></td></tr>"]
    for i, row in enumerate(rows):
        state = ", ".join(f"{k} {_shape(s, batch=False)}" for k, s in row["state"].items())
        body.append(f"<tr><td>{i}</td><td>{_e(row['name'])}</td><td>{_e(row['kind'])}</td>"
                    f"<td class=s>{_shape(row['output_shape'])}</td>"
                    f"<td class=n>{row['parameters']:,}</td><td class=n>{_count(row['flops'])}</td>"
                    f"<td>{_e(state)}</td></tr>")
    total = sum(row["parameters"] for row in rows)
    counts = [row["flops"] for row in rows]
    flops = None if None in counts else sum(counts)
    body.append(f"<tr><th></th><th>total</th><th></th><th></th><th class=n>{total:,}</th>"
                f"<th class=n>{_count(flops)}</th><th>{_e(model.dtype.name)}</th></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _accuracies(info: ModelInfo, evaluation: Evaluation) -> str:
    metrics = info.metrics
    rows = [(name, _percent(metrics.get(key))) for name, key in
            (("train", "train_accuracy"), ("validation", "val_accuracy"))]
    rows.append(("test", f"{100 * evaluation.accuracy:.2f}%"))
    rows.append(("expected calibration error (test)",
                 f"{100 * evaluation.reliability.ece:.2f}% "
                 f"({len(evaluation.reliability.count)} bins)"))
    return _table(rows)


def _per_class(evaluation: Evaluation) -> str:
    names = evaluation.class_names
    named = any(name != str(c) for c, name in enumerate(names))  # digits need no names
    cells = ["<th>class</th>", "<th>name</th>" * named, "<th class=n>accuracy</th>",
             "<th class=n>images</th>"]
    rows = ["<tr>" + "".join(cells) + "</tr>"]
    for c, (acc, count) in enumerate(zip(evaluation.per_class,
                                         evaluation.confusion.sum(axis=1))):
        shown = "n/a" if count == 0 else f"{100 * acc:.2f}%"
        name = f"<td>{_e(names[c])}</td>" if named else ""
        rows.append(f"<tr><td>{c}</td>{name}<td class=n>{shown}</td>"
                    f"<td class=n>{count:,}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _pictures(pictures: Pictures, learning_curve: bytes | None) -> str:
    out = []
    if learning_curve is not None:
        out.append(_img(learning_curve, "the learning curve"))
    for name in PICTURES:
        if name in pictures.png:
            out.append(_img(pictures.png[name], name.removesuffix(".png").replace("_", " ")))
    out += [f"<p class=note>Not drawn: {_e(line)}</p>" for line in pictures.skipped]
    return "\n".join(out)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _epochs(epochs: Sequence[Mapping[str, Any]], info: ModelInfo) -> str:
    if not epochs:
        seconds = info.metrics.get("train_seconds")
        note = f" (training took {seconds:,.1f} s in all)" if isinstance(seconds, float) else ""
        return f"<p class=note>No per-epoch record{note}.</p>"
    head = ("<tr><th class=n>epoch</th><th class=n>train loss</th><th class=n>val loss</th>"
            "<th class=n>val accuracy</th><th class=n>learning rate</th>"
            "<th class=n>seconds</th><th class=n>samples/s</th></tr>")
    body = "".join(
        f"<tr><td class=n>{_e(r.get('epoch'))}</td><td class=n>{_num(r.get('loss'), '.4f')}</td>"
        f"<td class=n>{_num(r.get('val_loss'), '.4f')}</td>"
        f"<td class=n>{_percent(r.get('val_accuracy'))}</td>"
        f"<td class=n>{_num(r.get('lr'), '.3g')}</td>"
        f"<td class=n>{_num(r.get('seconds'), ',.2f')}</td>"
        f"<td class=n>{_num(r.get('samples_per_s'), ',.0f')}</td></tr>" for r in epochs)
    total = sum(r["seconds"] for r in epochs if isinstance(r.get("seconds"), (int, float)))
    return f"<table>{head}{body}</table><p>Total: {total:,.1f} s.</p>"


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td class=v>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _shape(shape: Sequence[int], batch: bool = True) -> str:
    return "(" + ", ".join(["N"] * batch + [str(n) for n in shape]) + ")"


def _num(value: Any, spec: str) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    return format(value, spec) if ok else "–"


def _percent(value: Any) -> str:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    return f"{100 * value:.2f}%" if ok else "–"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
