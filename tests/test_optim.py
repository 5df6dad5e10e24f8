"""Tests for mnistnp.optim: closed-form SGD, momentum, Nesterov and Adam steps at several
learning rates; state round trips; learning-rate validation; the schedules, step by step;
gradient clipping by global norm."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable

import numpy as np
import pytest

from mnistnp.errors import SettingError
from mnistnp.optim import (
    OPTIMIZERS,
    SCHEDULES,
    SGD,
    Adam,
    AdamW,
    Cosine,
    Optimizer,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    make_optimizer,
    make_schedule,
)
from mnistnp.training import clip_global_norm_inplace

LRS = [1e-3, 0.01, 0.1, 0.5]


def problem(seed: int = 0, steps: int = 3) -> tuple[np.ndarray, list[np.ndarray]]:
    """Starting parameters and one gradient per step, float64 of shape (7,)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(7), [rng.standard_normal(7) for _ in range(steps)]


def run(opt: Optimizer, p0: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    p = p0.copy()
    for g in grads:
        opt.step(p, g)
    return p


@pytest.mark.parametrize("lr", LRS)
def test_sgd_plain_step(lr: float) -> None:
    p0, (g,) = problem(steps=1)
    p = p0.copy()
    SGD(lr).step(p, g)
    np.testing.assert_allclose(p, p0 - lr * g, rtol=1e-12)


@pytest.mark.parametrize("lr", LRS)
def test_sgd_momentum_three_steps(lr: float) -> None:
    m = 0.9
    p0, (g1, g2, g3) = problem()
    v1 = g1
    v2 = m * g1 + g2
    v3 = m * m * g1 + m * g2 + g3
    expected = p0 - lr * (v1 + v2 + v3)
    np.testing.assert_allclose(run(SGD(lr, momentum=m), p0, [g1, g2, g3]), expected, rtol=1e-12)


@pytest.mark.parametrize("lr", LRS)
def test_sgd_nesterov_three_steps(lr: float) -> None:
    # Nesterov (the Sutskever form PyTorch uses): v_t = m v_{t-1} + g_t; p -= lr (g_t + m v_t).
    m = 0.8
    p0, (g1, g2, g3) = problem(1)
    v1 = g1
    v2 = m * g1 + g2
    v3 = m * m * g1 + m * g2 + g3
    expected = p0 - lr * ((g1 + m * v1) + (g2 + m * v2) + (g3 + m * v3))
    opt = SGD(lr, momentum=m, nesterov=True)
    np.testing.assert_allclose(run(opt, p0, [g1, g2, g3]), expected, rtol=1e-12)


def textbook_adam(p0: np.ndarray, grads: list[np.ndarray], lr: float, b1: float = 0.9,
                  b2: float = 0.999, eps: float = 1e-8, l2: float = 0.0,
                  decoupled: float = 0.0) -> np.ndarray:
    """Kingma and Ba (2015), Algorithm 1, as printed; ``l2`` adds l2 * p to the gradient,
    ``decoupled`` first shrinks p by lr * decoupled (Loshchilov and Hutter's AdamW)."""
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g0 in enumerate(grads, start=1):
        g = g0 + l2 * p
        p = p * (1 - lr * decoupled)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("lr", LRS)
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_three_steps_match_the_textbook(lr: float, betas: tuple[float, float]) -> None:
    p0, grads = problem(2)
    grads[1] *= 1e-3  # small gradients make eps matter
    b1, b2 = betas
    for eps in (1e-8, 1e-3):
        expected = textbook_adam(p0, grads, lr, b1, b2, eps)
        got = run(Adam(lr, beta1=b1, beta2=b2, eps=eps), p0, grads)
        np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("lr", LRS)
def test_adam_first_step_is_lr_times_sign(lr: float) -> None:
    # At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g).
    p0, (g,) = problem(3, steps=1)
    p = p0.copy()
    Adam(lr, eps=1e-12).step(p, g)
    np.testing.assert_allclose(p, p0 - lr * np.sign(g), rtol=1e-9)


@pytest.mark.parametrize("lr", LRS)
def test_sgd_weight_decay_is_l2(lr: float) -> None:
    wd = 0.05
    p0, (g1, g2) = problem(6, steps=2)
    p1 = p0 - lr * (g1 + wd * p0)
    p2 = p1 - lr * (g2 + wd * p1)
    np.testing.assert_allclose(run(SGD(lr, weight_decay=wd), p0, [g1, g2]), p2, rtol=1e-12)


@pytest.mark.parametrize("lr", LRS)
def test_adam_l2_and_adamw_decoupled_decay(lr: float) -> None:
    wd = 0.05
    p0, grads = problem(7)
    np.testing.assert_allclose(run(Adam(lr, weight_decay=wd), p0, grads),
                               textbook_adam(p0, grads, lr, l2=wd), rtol=1e-6)
    np.testing.assert_allclose(run(AdamW(lr, weight_decay=wd), p0, grads),
                               textbook_adam(p0, grads, lr, decoupled=wd), rtol=1e-6)


@pytest.mark.parametrize(
    "make", [lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
             lambda: Adam(0.1, weight_decay=0.1), lambda: AdamW(0.1)],
    ids=["sgd", "nesterov-decay", "adam-decay", "adamw"])
def test_step_never_writes_to_the_gradients(make: Callable[[], Optimizer]) -> None:
    p0, grads = problem(8)
    copies = [g.copy() for g in grads]
    run(make(), p0, grads)
    for g, c in zip(grads, copies):
        np.testing.assert_array_equal(g, c)


@pytest.mark.parametrize(
    "make", [lambda: SGD(0.1, momentum=0.9), lambda: SGD(0.1, momentum=0.5, nesterov=True),
             lambda: Adam(0.01)],
    ids=["momentum", "nesterov", "adam"])
def test_state_dict_round_trip_continues_identically(make: Callable[[], Optimizer]) -> None:
    p0, grads = problem(4, steps=5)
    uninterrupted = run(make(), p0, grads)

    first = make()
    p = run(first, p0, grads[:2])
    state = first.state_dict()
    assert state  # there is state to save
    for g in grads[2:]:  # the saved state is a copy: later steps do not change it
        first.step(p.copy(), g)
    resumed = make()
    resumed.load_state_dict(state)
    p = run(resumed, p, grads[2:])

    np.testing.assert_array_equal(p, uninterrupted)


def test_fresh_optimizers_have_empty_state() -> None:
    assert SGD(0.1).state_dict() == {}
    assert SGD(0.1, momentum=0.9).state_dict() == {}
    assert Adam().state_dict() == {}


def test_adam_load_empty_state_restarts() -> None:
    p0, grads = problem(5)
    opt = Adam(0.1)
    run(opt, p0, grads)
    opt.load_state_dict({})
    np.testing.assert_array_equal(run(opt, p0, grads), run(Adam(0.1), p0, grads))


@pytest.mark.parametrize("lr", [0, -1, math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("cls", [SGD, Adam])
def test_invalid_learning_rate_raises(cls: type[Optimizer], lr: float) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(lr))):
        cls(lr)


@pytest.mark.parametrize("kwargs", [{"momentum": 1.0}, {"momentum": -0.1},
                                    {"momentum": 0.0, "nesterov": True}])
def test_invalid_momentum_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SGD(0.1, **kwargs)


@pytest.mark.parametrize("kwargs", [{"beta1": 1.0}, {"beta2": -0.5}])
def test_invalid_adam_betas_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Adam(0.1, **kwargs)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: SGD(0.1, momentum=1.5), "momentum 1.5: must be in [0, 1)"),
    (lambda: SGD(0.1, nesterov=True), "nesterov: needs momentum > 0"),
    (lambda: Adam(-1.0), "lr -1: must be a finite number > 0"),
    (lambda: AdamW(0.1, weight_decay=-0.5), "weight-decay -0.5: must be a finite number >= 0"),
    (lambda: Cosine(0.1, 10, warmup_epochs=-1.0), "warmup-epochs -1: must be >= 0"),
    (lambda: StepDecay(0.1, 10, step_epochs=0), "step-epochs 0: must be >= 1"),
    (lambda: StepDecay(0.1, 10, gamma=1.5), "gamma 1.5: must be in (0, 1]"),
    (lambda: ReduceOnPlateau(0.1, 10, gamma=1.0), "gamma 1: the plateau schedule needs gamma < 1"),
    (lambda: ReduceOnPlateau(0.1, 10, patience=-1), "patience -1: must be >= 0"),
])
def test_the_constructor_names_a_bad_setting_and_its_value(make: Callable[[], object],
                                                           message: str) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        make()


# --- the registries ----------------------------------------------------------------------------


def test_every_optimizer_is_built_from_its_config_and_gives_it_back() -> None:
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw"}
    for name, cls in OPTIMIZERS.items():
        built = make_optimizer({"name": name, "lr": 0.123})
        assert type(built) is cls and built.lr == 0.123
        assert make_optimizer(built.config()).config() == built.config()
    assert SGD(0.05, 0.9, True, 5e-4).config() == {
        "name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}
    assert AdamW(2e-3, weight_decay=0.1).config() == {
        "name": "adamw", "lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
        "weight_decay": 0.1}


def test_every_schedule_is_built_from_its_config_and_gives_it_back() -> None:
    assert set(SCHEDULES) == {"constant", "cosine", "step", "plateau"}
    for name, cls in SCHEDULES.items():
        built = make_schedule({"name": name}, 0.5, 100, 10)
        assert type(built) is cls and built.lr_at(0) <= 0.5
        assert make_schedule(built.config(), 0.5, 100, 10).config() == built.config()
    cosine = make_schedule({"name": "cosine", "warmup_epochs": 1.5}, 0.1, 100, 10)
    assert cosine.config() == {"name": "cosine", "warmup_epochs": 1.5} and cosine.warmup == 15
    step = make_schedule({"name": "step", "step_epochs": 2, "gamma": 0.5}, 0.1, 100, 10)
    assert [step.lr_at(t) for t in (19, 20)] == pytest.approx([0.1, 0.05])


@pytest.mark.parametrize(("config", "message"), [
    ({"name": "rmsprop"}, "optimizer 'rmsprop': choose from adam, adamw, sgd"),
    ({"name": "adam", "momentum": 0.9}, "momentum 0.9: the adam optimizer takes no such setting"),
])
def test_an_unknown_optimizer_or_setting_is_named(config: dict, message: str) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        make_optimizer(config)
    with pytest.raises(SettingError, match=r"schedule 'warm': choose from constant, cosine"):
        make_schedule({"name": "warm"}, 0.1, 10)
    with pytest.raises(SettingError, match=r"lr 0\.1: the cosine schedule takes no such setting"):
        make_schedule({"name": "cosine", "lr": 0.1}, 0.1, 10)


def test_a_name_another_class_holds_is_refused_and_a_variant_joins_nothing() -> None:
    with pytest.raises(TypeError, match=re.escape("optimizer name 'sgd' of Impostor is taken by "
                                                  "mnistnp.optim.sgd.SGD")):
        type("Impostor", (Optimizer,), {"name": "sgd"})
    with pytest.raises(TypeError, match="schedule name 'cosine' of Impostor is taken"):
        type("Impostor", (Schedule,), {"name": "cosine"})

    class Spy(SGD):  # no name of its own: a variant of sgd, not a new kind
        pass

    assert OPTIMIZERS["sgd"] is SGD and Spy(0.1).config()["name"] == "sgd"


# --- schedules -------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", LRS)
def test_cosine_schedule(lr: float) -> None:
    total = 1000
    sched = Cosine(lr, total)
    assert sched.lr_at(0) == pytest.approx(lr, rel=1e-12)
    assert sched.lr_at(total // 2) == pytest.approx(lr / 2, rel=1e-12)
    assert sched.lr_at(total // 4) == pytest.approx(lr * (1 + math.sqrt(0.5)) / 2, rel=1e-12)
    assert 0 < sched.lr_at(total - 1) < 1e-5 * lr
    values = [sched.lr_at(t) for t in range(total)]
    assert all(a > b for a, b in itertools.pairwise(values))  # strictly decreasing


@pytest.mark.parametrize("lr", LRS)
def test_constant_schedule(lr: float) -> None:
    sched = Schedule(lr, 100)
    assert {sched.lr_at(t) for t in (0, 1, 50, 99)} == {lr}


def test_cosine_warmup_rises_linearly_then_decays() -> None:
    lr, total, warmup = 0.1, 110, 10
    sched = Cosine(lr, total, warmup)
    np.testing.assert_allclose([sched.lr_at(t) for t in range(warmup)],
                               [lr * (t + 1) / warmup for t in range(warmup)], rtol=1e-12)
    assert sched.lr_at(warmup) == pytest.approx(lr)
    assert sched.lr_at(warmup + 50) == pytest.approx(lr / 2)  # halfway through the 100 decay steps


def test_step_decay() -> None:
    sched = StepDecay(0.1, 100, step_epochs=30, gamma=0.5)
    assert [sched.lr_at(t) for t in (0, 29, 30, 59, 60, 99)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])


def test_plateau_drops_after_patience_bad_epochs_and_only_then() -> None:
    """gamma 0.5, patience 2, threshold 1e-4 relative: a loss must beat best * (1 - 1e-4)."""
    sched = ReduceOnPlateau(0.1, 100, gamma=0.5, patience=2, threshold=1e-4)
    losses = [1.0, 0.9, 0.9, 0.89995, 0.95, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86]
    # best 1.0, 0.9; then three epochs not better than 0.9 * (1 - 1e-4) = 0.89991 (0.89995 is
    # not): the third bad epoch drops the rate and resets the count; 0.8 is better; three more
    # bad epochs drop again, and three more again.
    expected = [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
    seen = []
    for loss in losses:
        sched.epoch_end(loss)
        seen.append(sched.lr_at(0))
    assert seen == pytest.approx(expected, rel=1e-15)


def test_plateau_respects_min_lr_and_ignores_runs_without_validation() -> None:
    sched = ReduceOnPlateau(1.0, 10, gamma=0.1, patience=0, min_lr=0.05)
    for _ in range(5):
        sched.epoch_end(None)  # no validation: nothing to judge
    assert sched.lr_at(7) == 1.0
    sched.epoch_end(1.0)
    for want in (0.1, 0.05, 0.05):
        sched.epoch_end(1.0)
        assert sched.lr_at(0) == pytest.approx(want)


# Ten epochs of six steps and the validation loss after each; for the plateau schedule below
# (gamma 0.5, patience 1) the rate halves after epochs 4, 7 and 9, by hand:
# best 1.0, 0.9; then 0.95, 0.97 (two bad epochs > 1: halve); 0.85 best; 0.86, 0.87 (halve);
# 0.88, 0.89 (halve); 0.9.
RESUME_LOSSES = [1.0, 0.9, 0.95, 0.97, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]
PLATEAU_EPOCH_RATES = [0.1] * 4 + [0.05] * 3 + [0.025] * 2 + [0.0125]


def _resume_expected(name: str) -> list[float]:
    """The rate at each of the 60 steps of an uninterrupted run, worked out here."""
    if name == "plateau":
        return [rate for rate in PLATEAU_EPOCH_RATES for _ in range(6)]
    if name == "step":
        return [0.1 * 0.5 ** (t // 7) for t in range(60)]
    if name == "cosine":
        return [0.1 * (t + 1) / 5 if t < 5 else 0.1 * 0.5 * (1 + math.cos(math.pi * (t - 5) / 55))
                for t in range(60)]
    return [0.1] * 60


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_resumes_from_its_state(name: str) -> None:
    """A run cut after any epoch and continued by a new schedule loaded from ``state_dict()``
    (through JSON, as a checkpoint keeps it) gets every rate an uninterrupted run gets. The
    new schedule has first lived through another run (its plateau rate halved once, its best
    loss 1.2), so anything it keeps that the state leaves out shows up as a wrong rate; the
    rates are checked against values worked out here, not against a second copy of the same
    schedule."""
    assert set(SCHEDULES) == {"constant", "step", "cosine", "plateau"}  # each one worked out

    def make() -> Schedule:
        if name == "step":
            return StepDecay(0.1, 60, step_epochs=7, gamma=0.5)
        if name == "plateau":
            return ReduceOnPlateau(0.1, 60, gamma=0.5, patience=1)
        if name == "cosine":
            return Cosine(0.1, 60, warmup_epochs=5)
        return SCHEDULES[name](0.1, 60)

    def run(sched: Schedule, epochs: range, losses: list[float]) -> list[float]:
        rates = []
        for epoch in epochs:
            rates += [sched.lr_at(step) for step in range(6 * epoch, 6 * epoch + 6)]
            sched.epoch_end(losses[epoch])
        return rates

    expected = _resume_expected(name)
    for cut in range(1, 10):
        first = make()
        before = run(first, range(cut), RESUME_LOSSES)
        state = json.loads(json.dumps(first.state_dict()))
        second = make()
        run(second, range(8), [5.0, 6.0, 7.0, 4.0, 3.0, 2.0, 1.5, 1.2])  # another run
        second.load_state_dict(state)
        after = run(second, range(cut, 10), RESUME_LOSSES)
        assert before + after == pytest.approx(expected, rel=1e-12), f"cut after epoch {cut}"


@pytest.mark.parametrize("max_norm", [0.5, 1.0, 3.0, 100.0])
def test_clipping_scales_to_the_global_norm_in_closed_form(max_norm: float) -> None:
    g = np.array([3.0, 0.0, -4.0, 12.0])  # norm 13
    clipped = g.copy()
    assert clip_global_norm_inplace(clipped, max_norm) == pytest.approx(13.0, rel=1e-15)
    want = g if max_norm >= 13 else g * (max_norm / 13.0)
    np.testing.assert_allclose(clipped, want, rtol=1e-15)
    assert np.linalg.norm(clipped) == pytest.approx(min(13.0, max_norm), rel=1e-15)
