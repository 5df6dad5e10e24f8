"""ONNX export: a model's evaluation graph, built by each layer's own ``to_onnx`` piece, checked,
and written atomically with the model file's record as metadata (``onnx`` imported lazily)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .atomic import atomic_write
from .errors import ExportError
from .model_info import ModelInfo
from .nn import LAYERS, Layer, Sequential
from .version import __version__

# The ONNX operator set the graph is written for: every operator it uses (Gemm, Conv, MaxPool,
# Relu, Softmax, Flatten, Unsqueeze, Cast, Mul, Add, GlobalAveragePool) is in opset 17, which
# onnxruntime runs from 1.13 on. The IR version is the one that opset came with (onnx 1.12), so
# a runtime of that age reads the file whatever the onnx package that wrote it.
OPSET = 17
IR_VERSION = 8
# The name of the batch axis in the graph's input and outputs: any number of images.
BATCH = "N"
INPUT = "images"
OUTPUTS = ("probabilities", "logits")
MISSING_ONNX = "ONNX export needs the onnx package: pip install 'mnistnp[onnx]'"


class Graph:
    """A graph under construction, as plain data: what ``Layer.to_onnx`` writes into.

    See ``nn.base.GraphBuilder``. ``prefix`` names the layer being added (``layers.3``), so its
    initializers carry the names a model file gives its arrays (``layers.3.W``).

    Parameters
    ----------
    dtype : numpy.dtype
        The model's float type (float32 or float64); floating constants are stored in it.

    Attributes
    ----------
    prefix : str
        The name of the layer being added, which its constants and nodes are named under.
    nodes : list of (str, list of str, str, dict)
        The operators in order: each one's type, input names, output name and attributes.
    constants : dict of str to ndarray
        The initializers by name.
    left_out : list of str
        The layers whose piece passed its input through, as ``"layer 0 (RandomAffine)"``.
    """

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.prefix = ""
        # (op, inputs, output, attributes), in order
        self.nodes: list[tuple[str, list[str], str, dict[str, Any]]] = []
        self.constants: dict[str, np.ndarray] = {}  # initializer name -> array
        # "layer 0 (RandomAffine)": the layers whose piece passed its input through
        self.left_out: list[str] = []
        self._count = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add ``value`` as the initializer ``<prefix>.<name>``; return that name.

        Parameters
        ----------
        name : str
            The constant's name within the layer, such as ``"W"``.
        value : ndarray of any shape, dtype floating or integer
            Its value. A floating array is cast to ``dtype``; any array is copied, so later
            training does not change the graph.

        Returns
        -------
        str
            The initializer's full name, for a node's inputs.

        Raises
        ------
        ValueError
            If a constant of that full name was already added.
        """
        full = f"{self.prefix}.{name}" if self.prefix else name
        if full in self.constants:
            raise ValueError(f"constant {full!r} is added twice")
        value = np.asarray(value)
        floating = np.issubdtype(value.dtype, np.floating)
        self.constants[full] = np.array(value, dtype=self.dtype if floating else value.dtype)
        return full

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Add operator ``op`` on ``inputs``; return its output's name (``<prefix>.<op>.<k>``).

        Parameters
        ----------
        op : str
            The ONNX operator type, such as ``"Gemm"``.
        inputs : list of str
            The names of its inputs: the graph input, earlier outputs or constants.
        **attributes
            Its ONNX attributes (a NumPy dtype, for Cast's ``to``, is converted on export).

        Returns
        -------
        str
            The name of its output, unique in the graph.
        """
        self._count += 1
        output = f"{self.prefix or 'graph'}.{op}.{self._count}"
        self.nodes.append((op, list(inputs), output, attributes))
        return output


def trace(model: Sequential) -> Graph:
    """The model's evaluation graph as plain data.

    Each layer adds its own piece (``Layer.to_onnx``), then the logits' softmax.

    Parameters
    ----------
    model : Sequential
        Takes (N, *input_shape) samples and returns (N, n_classes) logits.

    Returns
    -------
    Graph
        Its last two nodes write ``probabilities`` (Softmax) and ``logits`` (Identity);
        ``left_out`` names the training-only layers, which pass their input through.

    Raises
    ------
    ExportError
        For a layer kind without a piece, naming the layer and the kinds that have one.
    """
    graph = Graph(model.dtype)
    x, shape = INPUT, model.input_shape
    for i, (layer, out_shape) in enumerate(zip(model.layers, model.shapes)):
        graph.prefix = f"layers.{i}"
        try:
            y = layer.to_onnx(graph, x, shape)
        except ExportError as e:
            raise ExportError(f"layer {i}: {e} (kinds that have one: "
                              f"{', '.join(exportable_kinds())})") from None
        if y == x:
            graph.left_out.append(f"layer {i} ({layer.kind})")
        x = y
        shape = out_shape
    # Softmax over the classes, as losses.softmax (max-shifted) does
    graph.nodes.append(("Identity", [x], "logits", {}))
    graph.nodes.append(("Softmax", ["logits"], "probabilities", {"axis": -1}))
    return graph


def exportable_kinds() -> list[str]:
    """The registered layer kinds that have an ONNX piece (their own ``to_onnx``).

    Returns
    -------
    list of str
        The kinds, in the registry's order.
    """
    return [kind for kind, cls in LAYERS.items() if cls.to_onnx is not Layer.to_onnx]


def metadata(info: Mapping[str, Any]) -> dict[str, str]:
    """The ONNX metadata properties, as strings, from a model file's record.

    Parameters
    ----------
    info : mapping
        What the model file records beside the weights (a ``ModelInfo``, or a plain mapping).

    Returns
    -------
    dict of str to str
        ``dataset``, ``test_accuracy`` (a fraction, ``repr`` of a float), ``recipe``,
        ``seed``, ``settings`` (JSON, keys sorted), ``trained_with_mnistnp`` (the version that
        trained the model) and ``mnistnp_version`` (this one, which exported it). What the
        record leaves out, or holds as the wrong type, is left out.
    """
    record = info if isinstance(info, ModelInfo) else ModelInfo(info)
    accuracy = record.metrics.get("test_accuracy")
    trained_with = record.get("mnistnp")
    props: dict[str, Any] = {
        "dataset": record.dataset,
        "test_accuracy": None if isinstance(accuracy, bool) or not isinstance(
            accuracy, (int, float)) else repr(float(accuracy)),
        "recipe": record.recipe,
        "seed": None if record.seed is None else str(record.seed),
        "settings": json.dumps(record.config, sort_keys=True) if record.config else None,
        "trained_with_mnistnp": trained_with if isinstance(trained_with, str) else None,
        "mnistnp_version": __version__,
    }
    return {key: value for key, value in props.items() if value is not None}


def require_onnx() -> None:
    """Fail unless the onnx package can be imported.

    Raises
    ------
    ExportError
        Saying what to install, if onnx cannot be imported.
    """
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ExportError(MISSING_ONNX) from None


def to_proto(model: Sequential, info: Mapping[str, Any] | None = None) -> Any:
    """The model as a checked ``onnx.ModelProto``.

    The graph passes ``onnx.checker.check_model(full_check=True)`` and strict shape inference.

    Parameters
    ----------
    model : Sequential
        Every layer's kind must have an ONNX piece (``Layer.to_onnx``).
    info : mapping, optional
        The record to store as metadata properties (see ``metadata``); by default
        ``model.info``.

    Returns
    -------
    onnx.ModelProto
        Input ``images`` of shape (N, *input_shape), uint8 for a model that takes 0-255
        pixels (``Sequential.takes_pixels``), otherwise the model's float type; outputs
        ``probabilities`` and ``logits`` of shape (N, n_classes) in the model's float type.
        N, the batch axis, is free.

    Raises
    ------
    ExportError
        If onnx is not installed, a layer kind has no ONNX piece, or the graph does not check
        (saying why).
    """
    require_onnx()
    import onnx
    from onnx import helper, numpy_helper

    graph = trace(model)
    elem = helper.np_dtype_to_tensor_dtype(graph.dtype)
    input_elem = onnx.TensorProto.UINT8 if model.takes_pixels else elem
    nodes = [helper.make_node(op, inputs, [output], name=output,
                              **{key: _attribute(value) for key, value in attributes.items()})
             for op, inputs, output, attributes in graph.nodes]
    initializers = [numpy_helper.from_array(array, name)
                    for name, array in graph.constants.items()]
    outputs = [helper.make_tensor_value_info(name, elem, [BATCH, model.num_classes])
               for name in OUTPUTS]
    proto = helper.make_model(
        helper.make_graph(nodes, "mnistnp", [helper.make_tensor_value_info(
            INPUT, input_elem, [BATCH, *model.input_shape])], outputs, initializers,
            doc_string=_description(model, graph)),
        opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
        producer_name="mnistnp", producer_version=__version__)
    helper.set_model_props(proto, metadata(model.info if info is None else info))
    try:
        onnx.checker.check_model(proto, full_check=True)
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"the ONNX graph does not check: {first}") from None
    return proto


def export_onnx(model: Sequential, path: str | os.PathLike[str],
                info: Mapping[str, Any] | None = None) -> Any:
    """Write ``model`` as an ONNX file (opset ``OPSET``) to exactly ``path``, atomically.

    An earlier file there stays whole if anything fails.

    Parameters
    ----------
    model : Sequential
        Every layer's kind must have an ONNX piece (``Layer.to_onnx``); training-only layers
        (dropout, random shifts and affine transforms) are left out of the graph.
    path : str or os.PathLike
        Where to write, usually ``*.onnx``.
    info : Mapping, optional
        The record to store as metadata (default ``model.info``, what the model file holds).

    Returns
    -------
    onnx.ModelProto
        What was written (see ``to_proto``).

    Raises
    ------
    ExportError
        A layer kind without an ONNX piece, a graph that does not check, or no onnx package.

    Examples
    --------
    The file takes uint8 images (N, 28, 28) and gives ``probabilities`` and ``logits``, (N, 10):

    >>> mnistnp.export_onnx(mnistnp.load_model("model.npz"), "model.onnx")  # doctest: +SKIP
    """
    proto = to_proto(model, info)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return proto


def _description(model: Sequential, graph: Graph) -> str:
    """The graph's doc string: the model's layers, and which were left out."""
    left_out = f"; left out (training only): {', '.join(graph.left_out)}" \
        if graph.left_out else ""
    return repr(model) + left_out


def _attribute(value: Any) -> Any:
    """An attribute as onnx.helper takes it: a NumPy dtype (Cast's ``to``) as ONNX's type
    number; ints, floats and lists as they are."""
    if isinstance(value, np.dtype):
        from onnx import helper

        return helper.np_dtype_to_tensor_dtype(value)
    return value
