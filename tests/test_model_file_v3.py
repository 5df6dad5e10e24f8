"""Model files and checkpoints written in format 2 (tests/data/v2_*, see its README): they
load with today's code, upgraded, and give the answers the code that wrote them gave (up to
the order of floating-point sums)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_model_file_v2 import DATA, assert_same_arithmetic, tiny_data

from mnistnp import load_model
from mnistnp.checkpoint import load_checkpoint
from mnistnp.pipeline import train

EXPECTED = dict(np.load(DATA / "v2_expected.npz"))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_a_format_2_model_file_predicts_as_it_did(name: str) -> None:
    model = load_model(DATA / f"v2_{name}.npz")
    _, (x_test, _) = tiny_data()
    assert_same_arithmetic(model.predict_proba(x_test), EXPECTED[f"{name}_proba"])


def test_a_version_2_checkpoint_resumes_to_the_same_weights(tmp_path: Path) -> None:
    shutil.copy(DATA / "v2_cnn_checkpoint.npz", tmp_path / "old.npz")
    ckpt = load_checkpoint(tmp_path / "old.npz")
    assert ckpt.layer_rngs and ckpt.layer_state  # the affine layer's stream, the batch norm's
    result = train(ckpt.config, tiny_data(), progress=False, resume=ckpt)
    assert_same_arithmetic(result.model.params, EXPECTED["cnn_checkpoint_resumed_params"])
    state = np.concatenate([v.ravel() for layer in result.model.layers
                            for v in layer.state().values()])
    assert_same_arithmetic(state, EXPECTED["cnn_checkpoint_resumed_state"])
