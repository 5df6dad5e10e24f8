"""The classifier's input: images to rows and back, the shape a network takes, labels to class
indices, and the validation split of early stopping."""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import ShapeError
from ..nn.arch import build_layers

Shape = tuple[int, ...]


def as_rows(X: object) -> tuple[object, Shape | None]:
    """``X`` as rows (n_samples, n_features) if it is an ndarray of grey images (n_samples,
    height, width), with the images' shape; anything else as it is (validate_data checks it),
    with None. ValueError for an ndarray of more dimensions."""
    if not isinstance(X, np.ndarray) or X.ndim <= 2:
        return X, None
    if X.ndim != 3:
        raise ValueError(f"X has shape {X.shape}: give rows (n_samples, n_features) or grey "
                         "images (n_samples, height, width)")
    return X.reshape(len(X), -1), tuple(X.shape[1:])


def input_shape(layers: str, n_features: int, n_classes: int, dtype: str,
                image_shape: Shape | None) -> Shape:
    """One sample's shape for the network of ``layers``: images as given; rows if the network
    takes rows, else square images (a CNN on 784 features sees 28x28). ValueError if the
    network needs images and the features cannot be a square image."""
    if image_shape is not None:
        return image_shape
    try:
        build_layers(layers, (n_features,), n_classes, dtype)
        return (n_features,)
    except ShapeError:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(f"layers {layers!r} need images, but {n_features} features are "
                             "not a square image: give X as images (n_samples, height, "
                             "width)") from None
        return side, side


def check_images(image_shape: Shape | None, fitted: Shape) -> None:
    """ValueError if images of ``image_shape`` are not those of the ``fitted`` input shape
    (rows of the same size would be read as the wrong image)."""
    if image_shape is not None and len(fitted) == 2 and image_shape != fitted:
        raise ValueError(f"X holds {image_shape[0]}x{image_shape[1]} images, but the "
                         f"classifier was fitted on {fitted[0]}x{fitted[1]}")


def label_codes(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class indices (n_samples,) intp of labels ``y`` among sorted ``classes``; ValueError
    naming labels that are not among them."""
    codes = np.searchsorted(classes, y)
    known = codes < len(classes)
    known[known] = classes[codes[known]] == y[known]
    if not known.all():
        raise ValueError(f"y holds labels not among the classes {list(classes)}: "
                         f"{list(np.unique(y[~known]))[:5]}")
    return codes.astype(np.intp)


def validation_split(X: np.ndarray, codes: np.ndarray, fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Rows and class indices to train on, and a held-out ``fraction`` (x_val, y_val) drawn
    from ``seed``: stratified where every class can be on both sides (as MLPClassifier's),
    else not."""
    counts = np.bincount(codes)
    n_val = math.ceil(fraction * len(codes))
    classes = np.count_nonzero(counts)
    fits = counts[counts > 0].min() >= 2 and classes <= min(n_val, len(codes) - n_val)
    x_fit, x_val, y_fit, y_val = train_test_split(X, codes, test_size=fraction,
                                                  random_state=seed,
                                                  stratify=codes if fits else None)
    return x_fit, y_fit, (x_val, y_val)
