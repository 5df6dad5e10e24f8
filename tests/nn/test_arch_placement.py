"""The layer-string grammar's placement rules (``nn.arch.PLACEMENT``): they live with the
grammar, not on the layers; a variant of a kind follows its kind's rule."""

from __future__ import annotations

from mnistnp.nn import SHORTHANDS, BatchNorm, Dense, Layer, RandomShift, ReLU, network
from mnistnp.nn.arch import PLACEMENT, Placement, placement


def test_the_rules_are_the_grammars_not_flags_on_the_layers() -> None:
    for flag in ("raw_input", "idempotent", "before_relu"):
        assert not any(hasattr(cls, flag) for cls, _ in SHORTHANDS.values()), flag
    assert placement(RandomShift).raw_input and placement(ReLU).idempotent
    assert placement(BatchNorm).before_relu and placement(Dense) == Placement()
    assert all(issubclass(cls, Layer) for cls in PLACEMENT)


def test_a_variant_of_a_kind_follows_its_kinds_rule() -> None:
    class SpyNorm(BatchNorm):
        pass

    assert placement(SpyNorm) == placement(BatchNorm)


def test_bn_after_dense_goes_before_its_relu() -> None:
    model = network("dense:8,bn", (4,), 3)
    assert [layer.kind for layer in model.layers] == ["Rescale", "Dense", "BatchNorm", "ReLU",
                                                      "Dense"]
