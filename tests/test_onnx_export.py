"""ONNX export (``mnistnp.onnx_export``): the graph each layer's piece builds runs in onnxruntime
with mnistnp's own probabilities, for every layer kind, both float types and any batch size;
it passes the checker and strict shape inference, takes uint8 images, carries the model file's
record as metadata, and a layer kind without a piece is refused by name with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Mnist
from toy_layers import toy_layers

import mnistnp
from mnistnp.errors import ExportError
from mnistnp.nn import LAYERS, Dense, Flatten, ReLU, Rescale, Sequential, network
from mnistnp.nn.base import GraphBuilder, Shape
from mnistnp.onnx_export import OPSET, export_onnx, exportable_kinds, metadata, to_proto

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5
# Layer strings covering every layer kind, with odd geometry: an even kernel's 'same' padding
# (one more zero row and column after), strides with 'same' and 'valid', overlapping pools.
NETWORKS = {
    "mlp": "shift:2,dense:32,dropout:0.2,dense:16,bn,linear:12",
    "cnn": "affine:10:0.1:2,conv:4:3,bn,maxpool:2,conv:6:4:1:same,bn,maxpool:3:2,"
           "conv:5:3:2:valid,dense:16,dropout:0.3",
    "strided": "conv:3:4:2:same,maxpool:2:1,gap",
}


def random_model(layers: str, dtype: str = "float32", seed: int = 0) -> Sequential:
    """A model of ``layers`` with random weights and random running statistics, so that every
    number the export copies matters (fresh batch norm is the identity)."""
    rng = np.random.default_rng(seed)
    model = network(layers, (28, 28), 10, dtype=dtype, rng=rng)
    model.params[...] = rng.normal(0, 0.2, model.params.shape)
    for layer in model.layers:
        for name, array in layer.state().items():
            low = 0.5 if "var" in name else -0.5  # a variance stays positive
            array[...] = rng.uniform(low, low + 1.5, array.shape)
    return model


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) from onnxruntime."""
    probabilities, logits = session(path).run(["probabilities", "logits"], {"images": x})
    return probabilities, logits


def assert_same(model: Sequential, path: Path, x: np.ndarray) -> None:
    probabilities, logits = run(path, x)
    assert probabilities.dtype == model.dtype and logits.dtype == model.dtype
    expected = model.predict_proba(x)
    assert probabilities.shape == expected.shape
    assert np.abs(probabilities - expected).max() <= TOLERANCE
    assert np.array_equal(probabilities.argmax(1), expected.argmax(1))
    assert np.abs(logits - model.forward(x)).max() <= 1e-4 * max(1, np.abs(logits).max())


@pytest.mark.parametrize("name", NETWORKS)
def test_onnxruntime_gives_mnistnp_s_probabilities(tmp_path: Path, name: str) -> None:
    model = random_model(NETWORKS[name])
    export_onnx(model, tmp_path / "m.onnx")
    assert_same(model, tmp_path / "m.onnx", images(7))


def test_a_float64_model_is_a_float64_graph(tmp_path: Path) -> None:
    # onnxruntime's CPU provider has no float64 Conv, so the float64 model is an MLP
    model = random_model("dense:32,bn,dropout:0.1,dense:16", dtype="float64")
    export_onnx(model, tmp_path / "m.onnx")
    (output, _) = session(tmp_path / "m.onnx").get_outputs()
    assert output.type == "tensor(double)"
    assert_same(model, tmp_path / "m.onnx", images(7))


def test_the_batch_size_is_free(tmp_path: Path) -> None:
    model = random_model(NETWORKS["cnn"])
    export_onnx(model, tmp_path / "m.onnx")
    for n in (1, 7):
        assert_same(model, tmp_path / "m.onnx", images(n, seed=n))
    (given,) = session(tmp_path / "m.onnx").get_inputs()
    assert given.shape == ["N", 28, 28]


def test_the_input_is_uint8_images_rescaled_in_the_graph(tmp_path: Path) -> None:
    model = random_model(NETWORKS["mlp"])
    export_onnx(model, tmp_path / "m.onnx")
    (given,) = session(tmp_path / "m.onnx").get_inputs()
    assert (given.name, given.type) == ("images", "tensor(uint8)")
    # Black and white images: the rescale by 1/255 is what tells them apart.
    x = np.zeros((2, 28, 28), np.uint8)
    x[1] = 255
    assert_same(model, tmp_path / "m.onnx", x)


def test_a_model_that_takes_floats_gets_a_float_input(tmp_path: Path) -> None:
    model = network("dense:8", (28, 28), 10, rng=np.random.default_rng(0), input_scale=1.0)
    assert not model.takes_pixels
    export_onnx(model, tmp_path / "m.onnx")
    (given,) = session(tmp_path / "m.onnx").get_inputs()
    assert given.type == "tensor(float)"
    x = np.random.default_rng(0).random((3, 28, 28), np.float32)
    probabilities, _ = run(tmp_path / "m.onnx", x)
    assert np.abs(probabilities - model.predict_proba(x)).max() <= TOLERANCE


def test_the_graph_checks_and_its_shapes_are_inferred(tmp_path: Path) -> None:
    export_onnx(random_model(NETWORKS["cnn"]), tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    assert [o.name for o in inferred.graph.output] == ["probabilities", "logits"]
    for output in inferred.graph.output:
        dims = output.type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == ["N", 10]
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    # Training-only layers are left out: no random op, no dropout in the graph.
    ops = {node.op_type for node in proto.graph.node}
    assert ops <= {"Cast", "Mul", "Add", "Unsqueeze", "Conv", "MaxPool", "Relu", "Flatten",
                   "Gemm", "Identity", "Softmax"}, ops
    assert "RandomAffine" in proto.graph.doc_string and "Dropout" in proto.graph.doc_string


def test_initializers_carry_the_model_file_s_names() -> None:
    proto = to_proto(random_model("dense:8"))
    names = {init.name for init in proto.graph.initializer}
    assert {"layers.2.W", "layers.2.b", "layers.4.W", "layers.4.b"} <= names


INFO = {"seed": 3, "dataset": "mnist", "recipe": "default", "mnistnp": "0.0.9",
        "config": {"epochs": 2, "optimizer": {"name": "adamw", "lr": 0.002}},
        "metrics": {"test_accuracy": 0.9792, "val_accuracy": 0.979}}


def test_the_model_file_s_record_goes_into_the_metadata(tmp_path: Path) -> None:
    model = random_model("dense:8")
    model.info = mnistnp.ModelInfo(INFO)
    export_onnx(model, tmp_path / "m.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert props["dataset"] == "mnist"
    assert float(props["test_accuracy"]) == 0.9792
    assert props["recipe"] == "default" and props["seed"] == "3"
    assert props["mnistnp_version"] == mnistnp.__version__
    assert props["trained_with_mnistnp"] == "0.0.9"
    assert json.loads(props["settings"]) == INFO["config"]
    # onnxruntime reads them too
    meta = session(tmp_path / "m.onnx").get_modelmeta()
    assert meta.custom_metadata_map["dataset"] == "mnist" and meta.producer_name == "mnistnp"


def test_info_given_replaces_the_model_s_and_bad_values_are_left_out() -> None:
    props = metadata({"dataset": 7, "metrics": {"test_accuracy": "high"}, "config": []})
    assert props == {"mnistnp_version": mnistnp.__version__}
    proto = to_proto(random_model("dense:8"), info={"dataset": "kmnist"})
    assert {p.key: p.value for p in proto.metadata_props}["dataset"] == "kmnist"


def test_a_kind_without_a_piece_is_refused_by_name_and_nothing_is_written(
        tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"an earlier export")
    with toy_layers():
        model = network("dense:16,toynorm", (28, 28), 10, rng=np.random.default_rng(0))
        assert "ToyNorm" not in exportable_kinds()
        with pytest.raises(ExportError, match=r"^layer 4: layer kind ToyNorm has no ONNX "
                                              r"export \(kinds that have one: .*Dense"):
            export_onnx(model, out)
        with pytest.raises(ExportError, match="ToyNorm"):
            export_onnx(model, tmp_path / "new.onnx")
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left


def test_a_new_kind_exports_by_its_own_piece_alone(tmp_path: Path) -> None:
    with toy_layers() as kinds:
        toy_norm: Any = kinds["ToyNorm"]

        class ExportableToyNorm(toy_norm):  # a variant (no kind of its own): only the piece
            def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
                centred = graph.node("Sub", [x, graph.constant("mean", self.running_mean)])
                scaled = graph.node("Mul", [centred, graph.constant("gain", self.gain)])
                return graph.node("Add", [scaled, graph.constant("bias", self.bias)])

        toy = ExportableToyNorm(16)
        model = Sequential([Rescale(1 / 255), Flatten(), Dense(784, 16), ReLU(), toy,
                            Dense(16, 10)], (28, 28))
        rng = np.random.default_rng(1)
        model.params[...] = rng.normal(0, 0.2, model.params.shape)
        toy.running_mean[...] = rng.normal(0, 1, 16)
        export_onnx(model, tmp_path / "m.onnx")
        assert_same(model, tmp_path / "m.onnx", images(5))


def test_every_kind_of_mnistnp_s_own_has_a_piece() -> None:
    # The kinds the library ships; a kind added later may have one, or be refused by name.
    assert {"Rescale", "Flatten", "AddChannel", "Dense", "ReLU", "Dropout", "Conv2D",
            "MaxPool2D", "GlobalAvgPool", "BatchNorm", "RandomShift",
            "RandomAffine", "RandomStroke"} <= set(exportable_kinds()) <= set(LAYERS)


def test_without_onnx_the_error_says_what_to_install(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ExportError, match=r"pip install 'mnistnp\[onnx\]'"):
        export_onnx(random_model("dense:8"), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_importing_mnistnp_does_not_import_onnx() -> None:
    code = "import sys, mnistnp, mnistnp.cli; print('onnx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_no_layer_module_imports_onnx() -> None:
    nn = Path(mnistnp.__file__).parent / "nn"
    for path in nn.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import onnx" not in text and "from onnx" not in text, path.name


# --- the 10,000 test images, on briefly trained models -------------------------------------------

TRAINED = [
    pytest.param("dense:64,dropout:0.1,dense:32", "float32", id="mlp"),
    pytest.param("conv:8:3,bn,maxpool:2,conv:16:3,bn,maxpool:2,dense:32", "float32",
                 id="cnn with batch norm", marks=pytest.mark.slow),  # about 40 s on 2 cores
    pytest.param("dense:32,bn,dense:32", "float64", id="float64 mlp"),
]


@pytest.mark.parametrize(("layers", "dtype"), TRAINED)
def test_every_test_image_gets_mnistnp_s_answer(tmp_path: Path, mnist: Mnist, layers: str,
                                                dtype: str) -> None:
    (x_train, y_train), (x_test, _) = mnist
    rng = np.random.default_rng(0)
    model = network(layers, (28, 28), 10, dtype=dtype, rng=rng)
    mnistnp.fit(model, x_train[:6400], y_train[:6400], mnistnp.Adam(2e-3), rng=rng, epochs=2,
                batch_size=64)  # 200 steps: the comparison matters, not the accuracy
    export_onnx(model, tmp_path / "m.onnx")
    probabilities, _ = run(tmp_path / "m.onnx", x_test)
    expected = model.predict_proba(x_test)
    assert np.array_equal(probabilities.argmax(1), expected.argmax(1))
    assert np.abs(probabilities - expected).max() <= TOLERANCE
