"""The classifier's input: rows and images checked and reshaped for the network, the shape a
network takes, labels to class indices, and the validation split of early stopping."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..errors import ShapeError
from ..nn.arch import build_layers

Shape = tuple[int, ...]


def as_rows(X: object) -> tuple[object, Shape | None]:
    """``X`` as rows if it is an ndarray of grey images, with the images' shape.

    Parameters
    ----------
    X : object
        Anything scikit-learn takes as X; an ndarray of shape (n_samples, height, width) is
        grey images.

    Returns
    -------
    X : object
        Images as an ndarray of shape (n_samples, height * width), of their dtype; anything
        else as it is (``validate_data`` checks it).
    image_shape : tuple of int or None
        (height, width) for images, else None.

    Raises
    ------
    ValueError
        For an ndarray of more than three dimensions.
    """
    if not isinstance(X, np.ndarray) or X.ndim <= 2:
        return X, None
    if X.ndim != 3:
        raise ValueError(f"X has shape {X.shape}: give rows (n_samples, n_features) or grey "
                         "images (n_samples, height, width)")
    return X.reshape(len(X), -1), tuple(X.shape[1:])


def validate_input(estimator: BaseEstimator, X: Any, y: Any = "no_validation",
                   reset: bool = True) -> tuple[np.ndarray, Any, Shape | None]:
    """``X`` checked as rows, ``y`` (if given, even as None) as class labels, by scikit-learn.

    Parameters
    ----------
    estimator : BaseEstimator
        The classifier, whose ``n_features_in_`` (and ``feature_names_in_``) are set when
        ``reset`` and checked otherwise.
    X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
        height, width)
        Rows of numbers, or grey images.
    y : array-like of shape (n_samples,), optional
        Class labels; None gets scikit-learn's message, as its estimators give it.
    reset : bool, default True
        Whether X sets the number of features (a fit) or is checked against it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), numeric dtype (uint8 kept)
        The rows.
    y : ndarray of shape (n_samples,), or None
        The labels, when given.
    image_shape : tuple of int or None
        (height, width) if X came as images.
    """
    X, image_shape = as_rows(X)
    if isinstance(y, str) and y == "no_validation":
        return validate_data(estimator, X, dtype="numeric", reset=reset), None, image_shape
    X, y = validate_data(estimator, X, y, dtype="numeric", reset=reset)
    check_classification_targets(y)
    return X, y, image_shape


def input_shape(layers: str, n_features: int, n_classes: int, dtype: str,
                image_shape: Shape | None) -> Shape:
    """One sample's shape for the network of ``layers``.

    Images as given; rows if the network takes rows, else square images (a CNN on 784
    features sees 28x28).

    Parameters
    ----------
    layers : str
        The network's layer string.
    n_features : int
        Numbers per sample.
    n_classes : int
        Classes to tell apart.
    dtype : str
        The network's float type.
    image_shape : tuple of int or None
        (height, width) if the samples came as images.

    Returns
    -------
    tuple of int
        One sample's shape as the network takes it.

    Raises
    ------
    ValueError
        If the network needs images and the features cannot be a square image.
    """
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
    """Refuse images of another shape than those fitted.

    Rows of the same size would be read as the wrong image.

    Parameters
    ----------
    image_shape : tuple of int or None
        (height, width) of the images given, or None for rows.
    fitted : tuple of int
        The fitted input shape, ``input_shape_``.

    Raises
    ------
    ValueError
        If the classifier was fitted on images of another shape.
    """
    if image_shape is not None and len(fitted) == 2 and image_shape != fitted:
        raise ValueError(f"X holds {image_shape[0]}x{image_shape[1]} images, but the "
                         f"classifier was fitted on {fitted[0]}x{fitted[1]}")


def samples(X: np.ndarray, image_shape: Shape | None, takes_pixels: bool,
            fitted: Shape) -> np.ndarray:
    """Rows as the fitted network takes them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), numeric dtype
        The rows, as ``validate_input`` gives them.
    image_shape : tuple of int or None
        (height, width) if they came as images.
    takes_pixels : bool
        Whether the network was fitted on uint8 pixels (``Sequential.takes_pixels``).
    fitted : tuple of int
        The fitted input shape, ``input_shape_``.

    Returns
    -------
    ndarray of shape (n_samples, *fitted), dtype of X
        A view of X.

    Raises
    ------
    ValueError
        For images of another shape than fitted, or uint8 pixels for a classifier fitted on
        floats.
    """
    if X.dtype == np.uint8 and not takes_pixels:
        raise ValueError("X is uint8, but the classifier was fitted on numbers taken as "
                         "they are, not on uint8 pixels: give X as in fit")
    check_images(image_shape, fitted)
    return X.reshape(len(X), *fitted)


def label_codes(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class indices of labels ``y`` among sorted ``classes``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,), any dtype
        The sorted class labels, ``classes_``.
    y : ndarray of shape (n_samples,), dtype of classes
        Labels.

    Returns
    -------
    ndarray of shape (n_samples,), dtype intp
        Each label's index in ``classes``.

    Raises
    ------
    ValueError
        Naming labels that are not among the classes.
    """
    codes = np.searchsorted(classes, y)
    known = codes < len(classes)
    known[known] = classes[codes[known]] == y[known]
    if not known.all():
        raise ValueError(f"y holds labels not among the classes {list(classes)}: "
                         f"{list(np.unique(y[~known]))[:5]}")
    return codes.astype(np.intp)


def validation_split(X: np.ndarray, codes: np.ndarray, fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Rows and class indices to train on, and a held-out ``fraction`` drawn from ``seed``.

    Stratified where every class can be on both sides (as MLPClassifier's), else not.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), numeric dtype
        The rows.
    codes : ndarray of shape (n_samples,), dtype intp
        Their class indices.
    fraction : float
        The part held out, in (0, 1).
    seed : int
        Draws the split.

    Returns
    -------
    x_fit : ndarray of shape (n_fit, n_features), dtype of X
        The rows to train on.
    y_fit : ndarray of shape (n_fit,), dtype intp
        Their class indices.
    (x_val, y_val) : (ndarray, ndarray) tuple
        The held-out rows, of shape (n_val, n_features), and their class indices, of shape
        (n_val,).
    """
    counts = np.bincount(codes)
    n_val = math.ceil(fraction * len(codes))
    classes = np.count_nonzero(counts)
    fits = counts[counts > 0].min() >= 2 and classes <= min(n_val, len(codes) - n_val)
    x_fit, x_val, y_fit, y_val = train_test_split(X, codes, test_size=fraction,
                                                  random_state=seed,
                                                  stratify=codes if fits else None)
    return x_fit, y_fit, (x_val, y_val)
