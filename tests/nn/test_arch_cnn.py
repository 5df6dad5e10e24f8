"""A CNN from a layer string: the conv, maxpool, bn, gap and affine items, what each builds
(a channel axis for (28, 28) images, batch norm and pooling before the conv's ReLU), their
one-line mistakes, and the chunks a CNN is evaluated in."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import rel_error

from mnistnp.errors import ShapeError
from mnistnp.nn import (
    SHORTHANDS,
    AddChannel,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    LayerStringError,
    Rescale,
    Sequential,
    layer_from_spec,
    network,
    parse_layers,
    softmax_cross_entropy,
)
from mnistnp.nn.model import EVAL_BYTES
from mnistnp.training import evaluate

# The example: TensorFlow's tutorial CNN.
EXAMPLE = "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:1024,dropout:0.4"


def kinds(model: Sequential) -> list[str]:
    return [layer.kind for layer in model.layers]


@pytest.mark.parametrize(("text", "expected"), [
    (EXAMPLE, ["Rescale", "AddChannel", "Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D",
               "ReLU", "Flatten", "Dense", "ReLU", "Dropout", "Dense"]),
    # batch norm and pooling go before the conv's (or dense's) own ReLU, in the order written
    ("conv:8:3,bn,maxpool:2,dense:16,bn", ["Rescale", "AddChannel", "Conv2D", "BatchNorm",
                                           "MaxPool2D", "ReLU", "Flatten", "Dense",
                                           "BatchNorm", "ReLU", "Dense"]),
    # a ReLU written out keeps what follows after it
    ("conv:8:3,relu,bn", ["Rescale", "AddChannel", "Conv2D", "ReLU", "BatchNorm", "Flatten",
                          "Dense"]),
    ("conv:8:3,gap", ["Rescale", "AddChannel", "Conv2D", "ReLU", "GlobalAvgPool", "Dense"]),
    ("maxpool:2,conv:4:3", ["Rescale", "AddChannel", "MaxPool2D", "Conv2D", "ReLU", "Flatten",
                            "Dense"]),
    ("bn,dense:8", ["Rescale", "AddChannel", "BatchNorm", "Flatten", "Dense", "ReLU", "Dense"]),
    ("affine:10:0.1:2,conv:4:3", ["RandomAffine", "Rescale", "AddChannel", "Conv2D", "ReLU",
                                  "Flatten", "Dense"]),
    ("affine:10:0.1,shift:1,dense:8", ["RandomAffine", "RandomShift", "Rescale", "Flatten",
                                       "Dense", "ReLU", "Dense"]),
], ids=["example", "bn-and-pool", "relu-written", "gap", "pool-first", "bn-first", "affine",
        "affine-and-shift"])
def test_what_each_cnn_string_builds(text: str, expected: list[str]) -> None:
    model = network(text, (28, 28), 10)
    assert kinds(model) == expected
    assert model.input_shape == (28, 28) and model.output_shape == (10,)


def test_the_example_has_the_tutorials_shapes_and_settings() -> None:
    model = network(EXAMPLE, (28, 28), 10)
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [(c.in_channels, c.out_channels, c.kernel, c.stride, c.padding) for c in convs] == [
        (1, 32, (5, 5), (1, 1), "same"), (32, 64, (5, 5), (1, 1), "same")]
    # 'same' padding and two 2x2 pools: 28 -> 14 -> 7, so the dense layer gets 7 * 7 * 64
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert (dense[0].in_features, dense[0].out_features) == (7 * 7 * 64, 1024)
    assert model.num_params == (25 * 32 + 32) + (25 * 32 * 64 + 64) + (3136 * 1024 + 1024) \
        + (1024 * 10 + 10)


def test_conv_values_and_their_defaults() -> None:
    (item,) = parse_layers("conv:16:3")
    assert item.values == (16, 3, 1, "same")
    (item,) = parse_layers("conv:16:3:2:valid")
    assert item.values == (16, 3, 2, "valid")
    assert parse_layers("maxpool:3")[0].values == (3, None)
    assert parse_layers("affine:12.5:0.15")[0].values == (12.5, 0.15, 0)
    model = network("conv:4:3:2:valid,maxpool:3:2", (28, 28), 10)
    conv, pool = model.layers[2], model.layers[3]
    assert model.shapes[2] == (4, 13, 13)  # (28 - 3) // 2 + 1
    assert (pool.size, pool.stride) == ((3, 3), (2, 2)) and model.shapes[3] == (4, 6, 6)
    assert SHORTHANDS["conv"][1].usage("conv") == "conv:F:K[:S[:PAD]]"
    assert SHORTHANDS["affine"][1].usage("affine") == "affine:DEG:SCALE[:PX]"
    affine = network("affine:15:0.2:3", (28, 28), 10).layers[0]
    assert (affine.rotate, affine.scale, affine.shift) == (15.0, (0.8, 1.2), 3)
    assert repr(conv) == "Conv2D(1, 4, 3x3, stride 2, valid)"


def test_a_cnn_strings_convolutions_start_he_initialised_by_their_own_fan_in() -> None:
    """Each conv of a network built from a layer string draws N(0, 2 / fan_in) with fan_in =
    channels in x kernel area, its own (1 x 25, then 16 x 9), and zero biases."""
    model = network("conv:16:5,conv:64:3", (28, 28), 10, "float64", np.random.default_rng(3))
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    for conv in convs:
        fan_in = conv.in_channels * math.prod(conv.kernel)
        assert conv.W.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
        assert not conv.b.any()
    assert [c.in_channels * math.prod(c.kernel) for c in convs] == [25, 144]


def test_images_that_have_channels_get_no_channel_layer() -> None:
    model = network("conv:4:3,bn", (3, 10, 10), 5)
    assert kinds(model)[:2] == ["Rescale", "Conv2D"] and model.layers[1].in_channels == 3


@pytest.mark.parametrize(("text", "message"), [
    ("conv:32", r"^conv:32: missing K; write conv:F:K\[:S\[:PAD\]\]$"),
    ("conv:32:5:1:same:2", r"^conv:32:5:1:same:2: conv takes 2 to 4 values; write conv:F:K"),
    ("conv:32:5:0", r"^conv:32:5:0: S must be a whole number >= 1, got '0'$"),
    ("conv:32:5:1:full", r"^conv:32:5:1:full: PAD must be same or valid, got 'full'$"),
    ("maxpool:0", r"^maxpool:0: S must be a whole number >= 1, got '0'$"),
    ("bn:0.9", r"^bn:0.9: bn takes no value; write bn$"),
    ("affine:200:0.1", r"^affine:200:0.1: DEG must be a number from 0 to 180, got '200'$"),
    ("affine:10:1.5", r"^affine:10:1.5: SCALE must be a number in \[0, 1\), got '1.5'$"),
    ("conv:8:3,affine:10:0.1", r"^affine:10:0.1 must come first: it works on the raw images"),
], ids=["missing-k", "too-many", "stride-0", "padding", "pool-0", "bn-value", "rotate",
        "scale", "affine-not-first"])
def test_each_cnn_mistake_is_one_clear_message(text: str, message: str) -> None:
    with pytest.raises(LayerStringError, match=message):
        parse_layers(text)


@pytest.mark.parametrize(("text", "message"), [
    ("conv:8:29", r"^conv:8:29: a 29x29 kernel does not fit in 28x28 images$"),
    ("conv:8:40:1:valid", r"^conv:8:40:1:valid: a 40x40 kernel does not fit in 28x28"),
    ("maxpool:2,maxpool:2,maxpool:2,maxpool:2,maxpool:2", r"^maxpool:2: a 2x2 pool does not "
     r"fit in 1x1 images$"),
    ("dense:8,conv:4:3", r"^conv:4:3: expects \(8, height, width\) samples, gets \(8,\)$"),
    ("dense:8,gap", r"^gap: expects \(channels, height, width\) samples, gets \(8,\)$"),
], ids=["kernel-same", "kernel-valid", "pooled-away", "conv-on-rows", "gap-on-rows"])
def test_a_cnn_string_that_does_not_fit_the_images_names_its_item(text: str,
                                                                  message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        network(text, (28, 28), 10)


def test_pooling_before_the_relu_gives_what_pooling_after_it_gives() -> None:
    """The reason maxpool may go before the conv's ReLU: max and ReLU commute, so the output
    and every gradient are the same as with the ReLU first (checked in float64, where a ReLU
    gives many ties in a window: whole windows of zeros)."""
    rng = np.random.default_rng(3)
    built = network("conv:6:3,maxpool:2,dense:8", (12, 12), 4, "float64", rng)
    i = kinds(built).index("MaxPool2D")
    assert kinds(built)[i:i + 2] == ["MaxPool2D", "ReLU"]
    specs = [layer.spec() for layer in built.layers]
    specs[i], specs[i + 1] = specs[i + 1], specs[i]
    other = Sequential([layer_from_spec(spec, "float64") for spec in specs], (12, 12),
                       "float64")
    assert kinds(other)[i:i + 2] == ["ReLU", "MaxPool2D"]
    other.params[...] = built.params
    x = rng.integers(0, 256, (9, 12, 12), dtype=np.uint8)
    y = rng.integers(0, 4, 9)
    grads = []
    for model in (built, other):
        logits = model.forward(x, training=True)
        _, g = softmax_cross_entropy(logits, y, scale=1 / 9)
        model.backward(g)
        grads.append((logits.copy(), model.grads.copy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    assert rel_error(grads[0][1], grads[1][1]) < 1e-12


def test_the_channel_layer_is_a_view_with_its_own_backward() -> None:
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    layer = AddChannel()
    y = layer.forward(x, training=True)
    assert y.shape == (2, 1, 3, 4) and np.shares_memory(x, y)
    np.testing.assert_array_equal(layer.backward(y), x)
    with pytest.raises(ValueError, match=r"takes images \(height, width\), gets 12"):
        layer.output_shape((12,))


# --- evaluation in chunks of bounded memory ------------------------------------------------


class Spy:
    """Records the batch sizes a model's first layer is given."""

    def __init__(self, model: Sequential) -> None:
        self.sizes: list[int] = []
        first = model.layers[0]
        real = first.forward

        def forward(x: np.ndarray, training: bool = False) -> np.ndarray:
            self.sizes.append(len(x))
            return real(x, training)

        first.forward = forward  # type: ignore[method-assign]


def test_a_cnn_is_evaluated_in_chunks_that_bound_its_columns() -> None:
    """The example's second conv turns each 32x14x14 sample into 32*5*5 x 14*14 columns
    (627 KB in float32), and its layers' outputs take 200 KB more: 8,192 images at once
    held 1.5 GB (measured, docs/performance.md). Every path that evaluates
    (predict, predict_proba, the loop's validation) cuts the images into chunks whose
    columns fit in the evaluation budget, and the answers are those of one image at a time."""
    model = network(EXAMPLE, (28, 28), 10, rng=np.random.default_rng(0))
    column_bytes = 32 * 5 * 5 * 14 * 14 * 4
    rows = model.eval_rows
    assert 1 <= rows and rows * column_bytes <= EVAL_BYTES
    x = np.random.default_rng(1).integers(0, 256, (rows + 3, 28, 28), dtype=np.uint8)
    y = np.random.default_rng(2).integers(0, 10, len(x))
    spy = Spy(model)
    predicted = model.predict(x)
    proba = model.predict_proba(x)
    loss, accuracy = evaluate(model, x, y)
    assert spy.sizes and max(spy.sizes) <= rows and sum(spy.sizes) == 3 * len(x)
    alone = np.concatenate([model.predict_proba(x[i:i + 1]) for i in range(0, len(x), 17)])
    np.testing.assert_allclose(proba[::17], alone, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(predicted, proba.argmax(axis=1))
    assert accuracy == np.mean(predicted == y)
    assert loss == pytest.approx(-np.mean(np.log(proba[np.arange(len(y)), y])), rel=1e-5)


@pytest.mark.parametrize(("text", "dtype"), [("dense:50,dense:50,dense:50", "float32"),
                                             ("dense:50,dense:50,dense:50", "float64"),
                                             ("shift:2,dense:800,dropout:0.2,dense:800",
                                              "float64")])
def test_an_mlp_is_still_evaluated_8192_rows_at_a_time(text: str, dtype: str) -> None:
    assert network(text, (28, 28), 10, dtype).eval_rows == 8192


def test_the_chunk_follows_the_layer_that_takes_the_most_per_sample() -> None:
    """Counted by hand: Conv2D(1, 8, 3x3, same) on 20x20 takes its input (400), its output
    twice (2 * 8 * 400), the padded input (22 * 22) and the columns (9 * 400)."""
    model = Sequential([Rescale(1.0), AddChannel(), Conv2D(1, 8, 3, padding="same"),
                        Flatten(), Dense(3200, 2)], (20, 20), "float64")
    per_sample = (400 + 2 * 8 * 400 + 22 * 22 + 9 * 400) * 8
    assert model.eval_rows == min(8192, EVAL_BYTES // per_sample)


def test_batch_norm_keeps_its_state_in_the_models_dtype() -> None:
    model = network("conv:4:3,bn,dense:8,bn", (10, 10), 3, "float64")
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    assert [n.num_features for n in norms] == [4, 8]
    assert all(n.running_mean.dtype == np.float64 == n.running_var.dtype for n in norms)
    assert math.prod(model.shapes[-1]) == 3


def test_batch_norm_refuses_batches_that_would_be_taken_in_chunks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch over MAX_CHUNK rows is processed in chunks whose gradients add up: right for
    an MLP, wrong for batch norm, whose statistics would be each chunk's. Such a run stops
    before its first step; without batch norm it trains as before."""
    import mnistnp.step as step
    from mnistnp import Adam, fit
    from mnistnp.errors import TrainingError

    monkeypatch.setattr(step, "MAX_CHUNK", 64)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 3, 200)
    model = network("conv:2:3,bn,dense:4", (8, 8), 3, rng=rng)
    before = model.params.copy()
    with pytest.raises(TrainingError, match=r"^BatchNorm takes its statistics over the whole "
                                            r"batch, but batches of 100 rows are taken in "
                                            r"chunks of 64; give batches of at most 64 rows$"):
        fit(model, x, y, Adam(1e-3), rng=rng, batch_size=100)
    np.testing.assert_array_equal(model.params, before)
    fit(model, x, y, Adam(1e-3), rng=rng, batch_size=64)  # one chunk a batch: fine
    mlp_net = network("conv:2:3,dense:4", (8, 8), 3, rng=rng)
    fit(mlp_net, x, y, Adam(1e-3), rng=rng, batch_size=100)


def test_print_model_shows_a_cnns_layers_shapes_and_parameters() -> None:
    text = str(network("affine:10:0.1:2,conv:8:3,bn,maxpool:3:2,gap", (28, 28), 10))
    rows = [line.split("  ")[0] for line in text.splitlines()[3:-2]]
    assert rows == ["input", "RandomAffine(rotate=10, scale=0.9-1.1, shift=2)",
                    "Rescale(scale=0.00392)", "AddChannel", "Conv2D(1, 8, 3x3, same)",
                    "BatchNorm(8)", "MaxPool2D(3, stride 2)", "ReLU", "GlobalAvgPool",
                    "Dense(8, 10)"]
    assert "(N, 8, 13, 13)" in text  # (28 - 3) // 2 + 1
    # 3x3x8 kernels and 8 biases, 8 gammas and betas, an 8x10 dense layer and its biases
    assert text.splitlines()[-1].startswith(f"total: {9 * 8 + 8 + 16 + 80 + 10} parameters")


def test_a_trained_model_gives_back_its_step_buffers_and_still_trains() -> None:
    """pipeline.train drops the arrays layers keep between steps (``--repeats`` holds every
    seed's model until the best is saved); a step after that makes them again and is the same
    step as one taken by a copy that has them."""
    from conftest import tiny_arrays

    from mnistnp.optim import SGD
    from mnistnp.pipeline import train
    from mnistnp.train_config import TrainConfig
    from mnistnp.training import train_step

    a = tiny_arrays()
    data = ((a["train_images"], a["train_labels"]), (a["test_images"], a["test_labels"]))
    config = TrainConfig(epochs=1, dataset="tiny").with_overrides(
        layers="conv:4:3,bn,maxpool:2,dense:8")
    model = train(config, data=data, progress=False).model
    assert not any(layer.__dict__.get("_scratch_arrays") for layer in model.layers)

    def copy_state(source: Sequential, target: Sequential) -> None:
        target.params[...] = source.params
        for layer, twin in zip(source.layers, target.layers, strict=True):
            for name in layer.state_names:
                getattr(twin, name)[...] = getattr(layer, name)

    x, y = a["train_images"], a["train_labels"]
    kept = Sequential.from_spec(model.spec())
    kept.forward(x[:32].astype(np.float32), training=True)  # makes its buffers
    assert any(layer.__dict__.get("_scratch_arrays") for layer in kept.layers)
    copy_state(model, kept)
    for m in (model, kept):
        train_step(m, x, y, np.arange(32, 64), SGD(0.1))
    assert any(layer.__dict__.get("_scratch_arrays") for layer in model.layers)
    assert model.params.tobytes() == kept.params.tobytes()
