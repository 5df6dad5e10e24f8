"""A CNN's model files and checkpoints: batch norm's running statistics saved and loaded with
the weights, and hostile specs (billions of channels, a kernel larger than the image, a
negative stride, a network too large to hold) refused in one line before anything large is
allocated."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli, tiny_arrays

from mnistnp import TrainConfig, load_model, save_model
from mnistnp.checkpoint import load_checkpoint, save_checkpoint
from mnistnp.errors import ModelFileError, ShapeError
from mnistnp.model_config import ModelConfig
from mnistnp.nn import BatchNorm, network
from mnistnp.pipeline import train
from mnistnp.training import Interrupted

NET = "conv:8:3,bn,maxpool:2,dense:16"
# What NET builds on 28x28 images, by index: 0 Rescale, 1 AddChannel, 2 Conv2D(1, 8, 3x3),
# 3 BatchNorm(8), 4 MaxPool2D(2), 5 ReLU, 6 Flatten, 7 Dense(1568, 16), 8 ReLU, 9 Dense(16, 10)
# Allocating more than this while refusing a file would be allocating what it declares.
SMALL = 32 << 20


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def rewrite(path: Path, edit: Callable[[dict[str, Any]], None], out: Path,
            **arrays: np.ndarray | None) -> Path:
    """A copy of the model file ``path`` with its architecture changed by ``edit`` and
    members replaced or (None) removed."""
    files = members(path)
    meta = json.loads(files["meta.json"].tobytes())
    edit(meta["model"])
    files["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    for name, value in arrays.items():
        if value is None:
            del files[name]
        else:
            files[name] = value
    np.savez(out, **files)
    return out


@pytest.fixture
def cnn_file(tmp_path: Path) -> Path:
    """A trained-looking CNN: random weights and batch-norm statistics that are not the
    initial ones, saved."""
    rng = np.random.default_rng(0)
    model = network(NET, (28, 28), 10, rng=rng)
    norm = model.layers[3]
    assert isinstance(norm, BatchNorm)
    norm.running_mean[...] = rng.standard_normal(8)
    norm.running_var[...] = rng.uniform(0.5, 2.0, 8)
    path = tmp_path / "cnn.npz"
    save_model(path, model, {"dataset": "tiny"})
    return path


def test_a_cnn_file_holds_its_batch_norm_statistics_and_loads_to_the_same_answers(
        cnn_file: Path) -> None:
    files = members(cnn_file)
    assert {"layers.2.W", "layers.2.b", "layers.3.gamma", "layers.3.beta",
            "layers.3.running_mean", "layers.3.running_var", "layers.7.W"} <= set(files)
    model = load_model(cnn_file)
    assert [layer.kind for layer in model.layers][:4] == ["Rescale", "AddChannel", "Conv2D",
                                                          "BatchNorm"]
    np.testing.assert_array_equal(model.layers[3].running_var, files["layers.3.running_var"])
    # Evaluation uses the saved statistics: the output follows them, computed here by hand.
    x = tiny_arrays()["test_images"][:5]
    conv = model.layers[2].forward(x[:, None].astype(np.float32) / np.float32(255))
    norm = model.layers[3]
    expected = (conv - files["layers.3.running_mean"][:, None, None]) / np.sqrt(
        files["layers.3.running_var"][:, None, None] + 1e-5) * norm.gamma[:, None, None] \
        + norm.beta[:, None, None]
    np.testing.assert_allclose(norm.forward(conv), expected, rtol=1e-5, atol=1e-5)
    # And a second load answers alike.
    np.testing.assert_array_equal(load_model(cnn_file).predict_proba(x), model.predict_proba(x))


def refused(path: Path, *words: str) -> str:
    """Load ``path``: ModelFileError naming it and ``words``, and no large allocation."""
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as info:
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message
    assert peak < SMALL, f"{peak:,} bytes allocated while refusing {path.name}"
    return message


def test_a_billion_channels_are_refused_before_they_are_allocated(cnn_file: Path,
                                                                  tmp_path: Path) -> None:
    """A spec that chains (each layer fits the next) but declares 10^9 filters: its weights
    would take terabytes. The file's arrays are those of 8 filters: refused on the declared
    shapes, before the model allocates its buffers."""
    def billion(spec: dict[str, Any]) -> None:
        layers = spec["layers"]
        layers[2]["out_channels"] = 10**9
        del layers[3]  # the batch norm (indices after it shift down by one)
        layers[6]["in_features"] = 10**9 * 14 * 14
    path = rewrite(cnn_file, billion, tmp_path / "billion.npz",
                   **{"layers.3.gamma": None, "layers.3.beta": None,
                      "layers.3.running_mean": None, "layers.3.running_var": None})
    files = members(path)  # renumber the arrays after the removed layer
    files = {(f"layers.{int(k.split('.')[1]) - 1}.{k.split('.', 2)[2]}"
              if k.startswith("layers.") and int(k.split(".")[1]) > 3 else k): v
             for k, v in files.items()}
    np.savez(path, **files)
    refused(path, "layers.2.W", "(1000000000, 1, 3, 3)")


def test_a_huge_batch_norm_is_refused_without_allocating_its_statistics(
        cnn_file: Path, tmp_path: Path) -> None:
    def huge(spec: dict[str, Any]) -> None:
        spec["layers"][3]["num_features"] = 3 * 10**7  # 240 MB of running statistics
    refused(rewrite(cnn_file, huge, tmp_path / "bn.npz"), "layer 3 (BatchNorm)",
            "expects (30000000,)")


@pytest.mark.parametrize(("change", "words"), [
    ({"kernel_size": [29, 29]}, ["a 29x29 kernel does not fit in 28x28 images"]),
    ({"kernel_size": [40, 3], "padding": "valid"}, ["does not fit"]),
    ({"stride": [-1, 1]}, ["stride must be a positive int", "-1"]),
    ({"stride": [0, 0]}, ["stride"]),
    ({"in_channels": 0}, ["channel counts must be positive"]),
    ({"padding": "full"}, ["padding must be 'valid' or 'same'"]),
    ({"kernel_size": "5"}, ["kernel_size"]),
], ids=["kernel-same", "kernel-valid", "negative-stride", "zero-stride", "no-channels",
        "padding", "kernel-text"])
def test_a_bad_convolution_is_one_line(cnn_file: Path, tmp_path: Path, change: dict[str, Any],
                                       words: list[str]) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["layers"][2].update(change)
    refused(rewrite(cnn_file, edit, tmp_path / "bad.npz"), "bad architecture", *words)


def test_a_network_that_takes_too_much_per_image_is_refused(cnn_file: Path,
                                                            tmp_path: Path) -> None:
    """200,000 filters of 1x1 and a global average: 3 MB of weights, all present in the file,
    but 1.2 GB of activations for a single image (predict would try to allocate it)."""
    wide = 200_000

    def edit(spec: dict[str, Any]) -> None:
        spec["layers"] = [*spec["layers"][:2],
                          {"type": "Conv2D", "in_channels": 1, "out_channels": wide,
                           "kernel_size": [1, 1],
                           "stride": [1, 1], "padding": "same", "init": "he"},
                          {"type": "ReLU"}, {"type": "GlobalAvgPool"},
                          {"type": "Dense", "in_features": wide, "out_features": 10,
                           "init": "he"}]
    arrays = {name: None for name in members(cnn_file) if name.startswith("layers.")}
    zeros = np.zeros
    path = rewrite(cnn_file, edit, tmp_path / "wide.npz",
                   **{**arrays, "layers.2.W": zeros((wide, 1, 1, 1), np.float32),
                      "layers.2.b": zeros(wide, np.float32),
                      "layers.5.W": zeros((wide, 10), np.float32),
                      "layers.5.b": zeros(10, np.float32)})
    refused(path, "layer 2 (Conv2D)", "per sample")


def test_a_network_too_large_to_save_is_refused_before_it_is_allocated() -> None:
    """10^10 weights (40 GB): refused with the count, not a MemoryError or a machine
    brought to its knees."""
    with pytest.raises(ShapeError, match=r"10,\d{3},\d{3},\d{3} parameters"):
        network("dense:100000,dense:100000", (28, 28), 10)


def test_the_cli_says_so_in_one_line(session_idx_dir: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("train", "--data-dir", session_idx_dir, "--layers", "dense:100000,dense:100000",
               "--run-dir", tmp_path / "run", "--no-progress") == 1
    err = capsys.readouterr().err
    assert err.startswith("mnistnp: error: the network has ") and err.count("\n") == 1


def test_evaluate_refuses_a_hostile_cnn_file_in_one_line(cnn_file: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["layers"][2]["stride"] = [-1, 1]
    path = rewrite(cnn_file, edit, tmp_path / "bad.npz")
    assert cli("evaluate", "--model", path) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mnistnp: error: {path}: ") and err.count("\n") == 1


# --- checkpoints -----------------------------------------------------------------------------


def data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    a = tiny_arrays(n_train=200, n_test=40)
    return (a["train_images"], a["train_labels"]), (a["test_images"], a["test_labels"])


def test_a_checkpoint_whose_settings_declare_a_huge_network_is_refused_before_building_it(
        tmp_path: Path) -> None:
    config = TrainConfig(model=ModelConfig("conv:4:3,maxpool:2,dense:8"), epochs=2,
                         batch_size=50, val_split=50, dataset="tiny")
    calls = iter(range(100))
    with pytest.raises(Interrupted):
        train(config, data(), progress=False, checkpoint_path=str(tmp_path / "c.npz"),
              should_stop=lambda: next(calls) == 1)
    ckpt = load_checkpoint(tmp_path / "c.npz")
    # 784 * 20,000 weights (63 MB, and as much again for their gradients): what the settings
    # now say, while the weights are those of the small net.
    ckpt.config = TrainConfig(**{**ckpt.config.__dict__,
                                 "model": ModelConfig("dense:20000")})
    ckpt.model = None  # a version-1 checkpoint: no architecture to compare
    save_checkpoint(tmp_path / "big.npz", ckpt)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"weights hold [\d,]+ numbers but the model "
                                                 r"has 15,\d{3},\d{3}"):
            train(config, data(), progress=False, resume=load_checkpoint(tmp_path / "big.npz"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SMALL


# --- early stopping and resume keep batch norm's statistics with the weights ----------------

# Every random stream and piece of state a CNN run has: affine transforms, dropout masks,
# batch-norm statistics (conv and dense), AdamW moments, warmup then cosine.
CNN_CONFIG = TrainConfig(model=ModelConfig("affine:10:0.1:1,conv:4:3,bn,maxpool:2,dense:16,bn,"
                                           "dropout:0.2"),
                         epochs=4, batch_size=50,
                         optimizer={"name": "adamw", "lr": 0.01, "weight_decay": 0.0},
                         schedule={"name": "cosine", "warmup_epochs": 1}, val_split=60,
                         patience=2, seed=3, dataset="tiny")


def noisy_validation() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The tiny set with the validation rows' labels shuffled: the validation loss rises from
    the first epoch on, so early stopping ends the run and goes back to epoch 1."""
    (x, y), test = data()
    y = y.copy()
    y[-60:] = np.random.default_rng(0).permutation(y[-60:])
    return (x, y), test


class EachEpoch:
    """A callback that keeps each epoch's weights and layer state."""

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.state: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, ctx: Any) -> None:
        from mnistnp.model_file import named_state

        self.params.append(ctx.model.params.copy())
        self.state.append({k: v.copy() for k, v in named_state(ctx.model).items()})


def test_early_stopping_restores_the_best_epochs_batch_norm_statistics() -> None:
    seen = EachEpoch()
    result = train(CNN_CONFIG, noisy_validation(), progress=False, callbacks=[seen])
    best = result.history.best_epoch
    assert best is not None and best < result.history.epochs  # it went back
    from mnistnp.model_file import named_state

    state = named_state(result.model)
    assert set(state) == {"layers.4.running_mean", "layers.4.running_var",
                          "layers.9.running_mean", "layers.9.running_var"}
    np.testing.assert_array_equal(result.model.params, seen.params[best - 1])
    for name, array in state.items():
        np.testing.assert_array_equal(array, seen.state[best - 1][name], err_msg=name)
        assert not np.array_equal(array, seen.state[-1][name])  # not the last epoch's
    # What the model reports is what the best epoch's weights and statistics give.
    (x, y), _ = noisy_validation()
    assert result.val_accuracy == np.mean(result.model.predict(x[-60:]) == y[-60:])


@pytest.mark.parametrize("stop_at", [2, 3, 4, 8])  # 3 steps an epoch: mid-epoch, epoch ends
def test_an_interrupted_cnn_run_resumes_bit_identically(tmp_path: Path, stop_at: int) -> None:
    """The checkpoint holds the batch-norm statistics, the affine layer's and dropout's random
    streams and early stopping's best weights and statistics: the resumed run ends with the
    same weights, statistics and record as one never interrupted."""
    from mnistnp.model_file import named_state

    whole = train(CNN_CONFIG, noisy_validation(), progress=False)
    assert whole.history.best_epoch is not None
    calls = iter(range(1000))
    with pytest.raises(Interrupted):
        train(CNN_CONFIG, noisy_validation(), progress=False,
              checkpoint_path=str(tmp_path / "c.npz"), should_stop=lambda: next(calls) + 1 ==
              stop_at)
    ckpt = load_checkpoint(tmp_path / "c.npz")
    assert len(ckpt.layer_rngs) == 2 and set(ckpt.layer_state) == set(named_state(whole.model))
    resumed = train(CNN_CONFIG, noisy_validation(), progress=False, resume=ckpt)
    np.testing.assert_array_equal(resumed.model.params, whole.model.params)
    for name, array in named_state(whole.model).items():
        np.testing.assert_array_equal(named_state(resumed.model)[name], array, err_msg=name)
    assert resumed.history.costs == whole.history.costs
    assert resumed.history.epoch_val_loss == whole.history.epoch_val_loss
    assert resumed.history.best_epoch == whole.history.best_epoch
