"""Tests for the affine augmentation (nn.augment.affine): the resample against
exact transforms (identity, np.rot90, whole-pixel shifts) and a per-pixel loop, and
RandomAffine's sampling, seeding, modes and specs."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from mnistnp.nn import Rescale, Sequential
from mnistnp.nn.augment.affine import RandomAffine, affine_matrices, affine_resample


def images(n: int, h: int = 7, w: int = 7, c: int | None = None, seed: int = 0) -> np.ndarray:
    """Random float32 images, (n, h, w) or (n, c, h, w), with no zeros (so a pixel wrongly
    filled with background shows)."""
    shape = (n, h, w) if c is None else (n, c, h, w)
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32)


def shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``img`` (..., h, w) moved dy rows down and dx columns right, zeros where nothing lands."""
    h, w = img.shape[-2:]
    out = np.zeros_like(img)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def bilinear_loop(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The resample of one (h, w) image by one (2, 3) matrix, pixel by pixel in float64: the
    four neighbours of each source point weighted by their distances, 0 outside the image."""
    h, w = img.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            r, q = m @ [i, j, 1.0]
            r0, q0 = math.floor(r), math.floor(q)
            for a, wr in ((r0, 1 - (r - r0)), (r0 + 1, r - r0)):
                for b, wq in ((q0, 1 - (q - q0)), (q0 + 1, q - q0)):
                    if 0 <= a < h and 0 <= b < w:
                        out[i, j] += wr * wq * img[a, b]
    return out


def matrices(n: int, angle: float = 0.0, scale: float = 1.0,
             shift: tuple[float, float] = (0, 0)) -> np.ndarray:
    return affine_matrices(np.full(n, angle), np.full(n, scale), np.tile(shift, (n, 1)), 7, 7)


# --- the resample ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
def test_the_identity_returns_the_input_exactly(dtype: str) -> None:
    x = (images(4) * 100).astype(dtype)
    out = affine_resample(x, matrices(4))
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("size", [6, 7])  # the centre on a pixel, and between pixels
@pytest.mark.parametrize(("angle", "turns"), [(90, 1), (-90, -1), (180, 2), (270, 3)])
def test_quarter_turns_equal_rot90(size: int, angle: float, turns: int) -> None:
    """Counter-clockwise as displayed, as np.rot90; exact up to the rounding of cos and sin
    at grid points (cos 90° is 6e-17 in floating point)."""
    x = images(3, size, size)
    m = affine_matrices(np.full(3, angle), np.ones(3), np.zeros((3, 2)), size, size)
    np.testing.assert_allclose(affine_resample(x, m), np.rot90(x, turns, axes=(1, 2)),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize(("dy", "dx"), [(1, 0), (0, -2), (-3, 2), (7, 0), (2, 9)])
def test_a_whole_pixel_shift_moves_pixels_exactly(dy: int, dx: int) -> None:
    x = images(2)
    out = affine_resample(x, matrices(2, shift=(dy, dx)))
    np.testing.assert_array_equal(out, shifted(x, dy, dx))


def test_half_a_pixel_averages_neighbours_and_fades_into_the_background() -> None:
    x = images(1)
    out = affine_resample(x, matrices(1, shift=(0, 0.5)))[0]
    np.testing.assert_allclose(out[:, 1:], (x[0, :, :-1] + x[0, :, 1:]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[:, 0], x[0, :, 0] / 2, rtol=1e-6)  # half background


@pytest.mark.parametrize("seed", range(4))
def test_random_transforms_match_a_per_pixel_loop(seed: int) -> None:
    """Rotations, scalings (some shrinking the image well inside its frame, some pushing most
    of it out) and fractional shifts, against the loop above."""
    rng = np.random.default_rng(seed)
    n, h, w = 5, 7, 9
    x = images(n, h, w, seed=seed).astype(np.float64)
    m = affine_matrices(rng.uniform(-180, 180, n), rng.uniform(0.4, 2.5, n),
                        rng.uniform(-4, 4, (n, 2)), h, w)
    expected = np.stack([bilinear_loop(x[k], m[k]) for k in range(n)])
    # the source points are computed in float32, hence the tolerance
    np.testing.assert_allclose(affine_resample(x, m), expected, rtol=0, atol=1e-5)


def test_points_far_outside_sample_the_background() -> None:
    x = images(2)
    out = affine_resample(x, matrices(2, shift=(100, -100)))
    np.testing.assert_array_equal(out, 0)


def test_channels_are_transformed_alike() -> None:
    rng = np.random.default_rng(3)
    x = images(4, c=3)
    m = affine_matrices(rng.uniform(-30, 30, 4), rng.uniform(0.8, 1.2, 4),
                        rng.uniform(-2, 2, (4, 2)), 7, 7)
    out = affine_resample(x, m)
    assert out.shape == x.shape
    for ch in range(3):
        np.testing.assert_array_equal(out[:, ch], affine_resample(x[:, ch], m))


def test_integer_images_are_rounded_to_the_nearest_value() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (3, 7, 7), dtype=np.uint8)
    m = affine_matrices(rng.uniform(-30, 30, 3), rng.uniform(0.8, 1.2, 3),
                        rng.uniform(-2, 2, (3, 2)), 7, 7)
    out = affine_resample(x, m)
    assert out.dtype == np.uint8
    expected = np.stack([bilinear_loop(x[k].astype(float), m[k]) for k in range(3)])
    assert np.max(np.abs(out - expected)) <= 0.5 + 1e-3


def test_the_input_is_not_changed() -> None:
    x = images(3, c=2)
    before = x.copy()
    affine_resample(x, affine_matrices(np.full(3, 20.0), np.full(3, 1.1), np.ones((3, 2)), 7, 7))
    np.testing.assert_array_equal(x, before)


def test_an_empty_batch() -> None:
    x = np.zeros((0, 7, 7), np.uint8)
    assert affine_resample(x, np.zeros((0, 2, 3))).shape == (0, 7, 7)


# --- the layer ------------------------------------------------------------------------------


def layer(seed: int = 0, **kwargs) -> RandomAffine:
    settings = {"rotate": 15.0, "scale": (0.9, 1.1), "shift": 2} | kwargs
    aug = RandomAffine(**settings)
    aug.init(np.random.default_rng(seed))
    return aug


def test_evaluation_is_the_identity() -> None:
    x = images(4)
    assert layer().forward(x) is x
    assert layer().forward(x, training=False) is x


def test_settings_that_cannot_change_an_image_return_it() -> None:
    x = images(4)
    assert layer(rotate=0, scale=(1, 1), shift=0).forward(x, training=True) is x


def test_training_changes_images_and_keeps_shape_and_dtype() -> None:
    x = (images(6, 28, 28) * 100).astype(np.uint8)
    out = layer().forward(x, training=True)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert not np.array_equal(out, x)


def test_the_same_seed_gives_the_same_transforms_and_another_seed_others() -> None:
    x = images(8, c=1)
    a, b, c = layer(0), layer(0), layer(1)
    for _ in range(3):
        out = a.forward(x, training=True)
        np.testing.assert_array_equal(out, b.forward(x, training=True))
        assert not np.array_equal(out, c.forward(x, training=True))


def test_the_stream_state_saves_and_restores() -> None:
    """What a checkpoint does: save ``rng.bit_generator.state``, restore it in a new layer."""
    x = images(8)
    a = layer(5)
    a.forward(x, training=True)
    saved = json.loads(json.dumps(a.rng.bit_generator.state))
    expected = a.forward(x, training=True)
    b = layer(99)
    b.rng.bit_generator.state = saved
    np.testing.assert_array_equal(b.forward(x, training=True), expected)


def test_its_stream_is_a_child_of_the_models_generator() -> None:
    """Seeded through Sequential.init, as Dropout and RandomShift are."""
    models = [Sequential([RandomAffine(10, (0.9, 1.1), 1), Rescale(1 / 255)], (28, 28)).init(
        np.random.default_rng(seed)) for seed in (7, 7, 8)]
    x = (images(4, 28, 28) * 100).astype(np.uint8)
    outs = [m.forward(x, training=True) for m in models]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


def test_drawn_transforms_stay_in_range_and_cover_it() -> None:
    """Read back from the matrices: the angle from atan2, the scale from the determinant, the
    shift from where the centre goes."""
    aug = layer(rotate=12.0, scale=(0.8, 1.25), shift=2)
    m = aug.sample_matrices(4000, 28, 28)
    a = m[:, :, :2]
    angles = np.degrees(np.arctan2(a[:, 0, 1], a[:, 0, 0]))
    scales = 1 / np.sqrt(np.linalg.det(a))
    assert -12 <= angles.min() < -11.5 and 11.5 < angles.max() <= 12
    assert 0.8 <= scales.min() < 0.81 and 1.24 < scales.max() <= 1.25
    centre = np.array([13.5, 13.5])
    # the output pixel at centre + shift samples the input's centre: solve A p + b = centre
    moved = np.linalg.solve(a, (centre - m[:, :, 2])[..., None])[..., 0] - centre
    np.testing.assert_allclose(moved, np.round(moved), atol=1e-6)
    assert set(np.round(moved).astype(int).ravel()) == {-2, -1, 0, 1, 2}


def test_shifts_alone_are_whole_pixel_moves_within_the_range() -> None:
    x = images(20, 9, 9)
    out = layer(rotate=0, scale=(1, 1), shift=2).forward(x, training=True)
    moves = set()
    for k in range(len(x)):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(out[k], shifted(x[k], dy, dx))]
        assert len(found) == 1
        moves.add(found[0])
    assert len(moves) > 5


def test_four_dimensional_batches_transform_all_channels_alike() -> None:
    x = np.repeat(images(5, c=1), 3, axis=1)  # three equal channels
    out = layer().forward(x, training=True)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    np.testing.assert_array_equal(out[:, 0], out[:, 2])
    assert not np.array_equal(out, x)


@pytest.mark.parametrize("shape", [(4, 7, 7), (4, 2, 7, 7)])
def test_forward_does_not_change_its_input(shape: tuple[int, ...]) -> None:
    x = images(4, c=shape[1] if len(shape) == 4 else None)
    before = x.copy()
    layer().forward(x, training=True)
    np.testing.assert_array_equal(x, before)


def test_backward_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="input layer"):
        layer().backward(np.zeros((1, 7, 7)))


def test_output_shape() -> None:
    assert layer().output_shape((28, 28)) == (28, 28)
    assert layer().output_shape((3, 28, 28)) == (3, 28, 28)
    with pytest.raises(ValueError, match="expects"):
        layer().output_shape((784,))


def test_spec_round_trip() -> None:
    aug = layer(rotate=10.0, scale=(0.9, 1.2), shift=3)
    spec = json.loads(json.dumps(aug.spec()))
    assert spec == {"type": "RandomAffine", "rotate": 10.0, "scale": [0.9, 1.2], "shift": 3}
    assert RandomAffine.from_spec(spec).spec() == aug.spec()


@pytest.mark.parametrize("bad", [
    {"rotate": -1}, {"rotate": 181}, {"rotate": "10"}, {"rotate": math.nan},
    {"scale": (1.2, 0.9)}, {"scale": (0, 1)}, {"scale": 1.1}, {"scale": (0.9, "1.1")},
    {"shift": -1}, {"shift": 1.5}, {"shift": True}])
def test_bad_settings_are_refused_with_the_value(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        RandomAffine(**bad)


def test_a_deep_copy_continues_the_same_stream() -> None:
    aug = layer(3)
    twin = copy.deepcopy(aug)
    x = images(4)
    np.testing.assert_array_equal(aug.forward(x, True), twin.forward(x, True))
