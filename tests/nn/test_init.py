"""Weight initialisers (nn.init): one table for Dense and Conv2D, their fans, and the weights
a seed gives, bit for bit the ones the code before this table gave."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mnistnp.nn import INITIALIZERS, Conv2D, Dense, Flatten, Rescale, Sequential, network
from mnistnp.nn.init import fans

# SHA-256 of the initial weights, computed with the code before nn/init.py (Dense and Conv2D
# each had their own initialisers).
BEFORE = {
    ("conv:8:3,maxpool:2,dense:10", 0):
        "b3437370f8a6da1cc9a09ba6dba8a979ee672e9c209dddfa3cadcc59a89ad2dd",
    ("conv:8:3,maxpool:2,dense:10", 1):
        "ee49b4495858fa5ed03d3016f26e7083a74c5ba45e0ac66653d8f567ebe2f052",
    ("conv:8:5:2:valid,bn,conv:4:3,gap", 0):
        "007119965ed888d17579d0d4eb57211e56cbff0d0bc01c3d274eec43e17733c9",
    ("dense:50,dense:50,dense:50", 0):
        "6949559a7bae2b5897bf4c324faad6d20e2787efd0896f7555e60dd014811336",
}
GLOROT = "8793ff1bd48a0a6d6985fc1ac863b25e174a56db811d155e943554730140c259"


@pytest.mark.parametrize(("layers", "seed"), list(BEFORE))
def test_a_seed_gives_the_weights_it_gave_before(layers: str, seed: int) -> None:
    model = network(layers, (28, 28), 10, rng=np.random.default_rng(seed))
    assert hashlib.sha256(model.params.tobytes()).hexdigest() == BEFORE[layers, seed]


def test_glorot_gives_the_weights_it_gave_before() -> None:
    model = Sequential([Rescale(1 / 255), Conv2D(1, 3, 3, init="glorot"), Flatten(),
                        Dense(3 * 26 * 26, 7, init="glorot")], (1, 28, 28))
    model.init(np.random.default_rng(5))
    assert hashlib.sha256(model.params.tobytes()).hexdigest() == GLOROT


def test_fans_of_dense_and_convolution_weights() -> None:
    assert fans((784, 50)) == (784, 50)  # Dense: (in, out)
    assert fans((8, 3, 5, 4)) == (3 * 20, 8 * 20)  # Conv2D: (F, C, kh, kw), as Keras


@pytest.mark.parametrize("make", [lambda init: Dense(3, 2, init=init),
                                  lambda init: Conv2D(1, 2, 3, init=init)],
                         ids=["Dense", "Conv2D"])
def test_every_layer_with_weights_takes_the_tables_names_and_only_them(make) -> None:
    for name in INITIALIZERS:
        make(name)
    with pytest.raises(ValueError, match=r"unknown init 'lecun'; choose from \['glorot', 'he'\]"):
        make("lecun")
