"""MnistnpClassifier: scikit-learn's estimator API over a TrainConfig, mnistnp's networks and
its Trainer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from ..callbacks import Callback, LearningRateScheduler
from ..nn import log_softmax, network
from ..optim import Optimizer
from ..pipeline import make_optimizer, make_schedule
from ..sampling import ShuffledBatches
from ..train_config import TrainConfig
from ..training import History
from .inputs import (
    Shape,
    input_shape,
    label_codes,
    samples,
    validate_input,
    validation_split,
)
from .packing import pack, unpack
from .run import train_network
from .settings import seed_of, train_config


class MnistnpClassifier(ClassifierMixin, BaseEstimator):
    """An MLP or CNN classifier trained by mnistnp, as a scikit-learn estimator.

    ``fit``, ``partial_fit``, ``predict``, ``predict_proba`` and ``score``, as scikit-learn's
    classifiers have them.

    Each parameter left as None takes the value of the ``recipe`` (``mnistnp.RECIPES``):
    the default recipe trains a 50-50-50 ReLU MLP with AdamW for 20 epochs.

    Parameters
    ----------
    layers : str or None, default=None
        The hidden layers as a layer string, as ``ModelConfig.layers`` takes it:
        ``"dense:256,dropout:0.2"`` for an MLP, ``"conv:32:3,maxpool:2,dense:128"`` for a CNN.
        The output layer is added to match the classes.
    hidden_layer_sizes : int or sequence of int or None, default=None
        The widths of an MLP's hidden ReLU layers, as ``MLPClassifier`` takes them (instead
        of ``layers``).
    recipe : str, default="default"
        The mnistnp recipe whose settings fill in what is not given: "default", "best",
        "cnn" or "notebook".
    solver : {"adam", "adamw", "sgd"} or None, default=None
        The optimizer.
    learning_rate_init : float or None, default=None
        The (peak) learning rate.
    alpha : float or None, default=None
        Weight decay: an L2 penalty per step for "adam" and "sgd", decoupled for "adamw".
    schedule : {"cosine", "constant", "step", "plateau"} or None, default=None
        How the rate moves over a ``fit`` (``partial_fit`` keeps it at its peak).
    batch_size : int or "auto", default="auto"
        Samples per step; "auto" is the recipe's (128), at most the number of samples.
    max_iter : int or None, default=None
        Epochs (passes over the training set) per ``fit``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training set (stratified), stop after
        ``n_iter_no_change`` epochs without a lower validation loss and keep the best
        epoch's weights.
    validation_fraction : float, default=0.1
        The fraction held out for early stopping, in (0, 1).
    n_iter_no_change : int, default=10
        Epochs without a better validation loss before early stopping ends the run.
    dtype : {"float32", "float64"}, default="float32"
        The network's float type.
    random_state : int, RandomState instance or None, default=None
        An int is mnistnp's seed: it decides the weights, the batch order and the validation
        split, so the same int gives identical predictions.
    warm_start : bool, default=False
        If True, ``fit`` goes on training the fitted network instead of starting afresh.
    verbose : bool, default=False
        Print a line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; any label type.
    n_features_in_ : int
        Numbers per sample: 784 for 28x28 images, given as images or as rows.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names, when fitted on a DataFrame whose columns are all strings.
    input_shape_ : tuple of int
        One sample's shape as the network takes it: (n_features,) for an MLP on rows,
        (height, width) for images and for any network that needs them (a CNN).
    model_ : mnistnp.Sequential
        The network; ``mnistnp.save_model(path, clf.model_)`` writes it as a model file.
    n_iter_ : int
        Epochs trained, over every ``fit`` (with ``warm_start``) and ``partial_fit`` call.
    loss_curve_ : list of float
        The mean training loss of each of those epochs.
    validation_scores_ : list of float or None
        The validation accuracy after each epoch when ``early_stopping`` is on, else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``, else None.
    best_loss_ : float or None
        The lowest of ``loss_curve_`` without early stopping, else None.
    history_ : mnistnp.History
        The record of the last ``fit`` or ``partial_fit`` call.

    Notes
    -----
    uint8 input is taken as pixels 0-255 and divided by 255 inside the network, as mnistnp's
    models do; any other input (floats, a StandardScaler's output) is taken as it is. The
    choice is made at the first fit, and a classifier fitted on floats refuses uint8 input.
    """

    def __init__(self, layers: str | None = None, *,
                 hidden_layer_sizes: int | Sequence[int] | None = None,
                 recipe: str = "default", solver: str | None = None,
                 learning_rate_init: float | None = None, alpha: float | None = None,
                 schedule: str | None = None, batch_size: int | str = "auto",
                 max_iter: int | None = None, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 dtype: str = "float32", random_state: Any = None, warm_start: bool = False,
                 verbose: bool = False) -> None:
        self.layers = layers
        self.hidden_layer_sizes = hidden_layer_sizes
        self.recipe = recipe
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- settings --------------------------------------------------------------------------

    def train_config(self, seed: int = 0) -> TrainConfig:
        """The mnistnp TrainConfig these parameters make, with ``seed``.

        The recipe's settings, each overridden by the parameter that says it, if given.

        Parameters
        ----------
        seed : int, default 0
            The config's seed.

        Returns
        -------
        TrainConfig
            What ``fit`` trains with.

        Raises
        ------
        ValueError
            Naming the first bad parameter.
        """
        return train_config(self.get_params(deep=False), seed)

    # -- training ------------------------------------------------------------------------

    def _start(self, config: TrainConfig, X: np.ndarray, classes: np.ndarray,
               image_shape: Shape | None) -> None:
        """A fresh network for ``classes`` and samples like ``X``; the records emptied."""
        if len(classes) < 2:
            raise ValueError(f"y holds 1 class ({classes[0]!r}); a classifier needs at least "
                             "2 classes")
        self.classes_ = classes
        self.input_shape_ = input_shape(config.model.layers, X.shape[1], len(classes),
                                        config.dtype, image_shape)
        self._rng = np.random.default_rng(config.seed)
        scale = 1 / 255 if X.dtype == np.uint8 else 1.0  # see the class's Notes
        self.model_ = network(config.model.layers, self.input_shape_, len(classes),
                              config.dtype, self._rng, input_scale=scale)
        self._layers = config.model.layers
        self._optimizer: Optimizer | None = None
        self.n_iter_ = 0
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self.best_loss_: float | None = None

    def _check_continues(self, config: TrainConfig, classes: np.ndarray | None) -> None:
        """ValueError unless training may go on with this config and these classes."""
        if config.model.layers != self._layers or config.dtype != self.model_.dtype.name:
            raise ValueError(f"the network was fitted as {self._layers!r} in "
                             f"{self.model_.dtype.name}, not {config.model.layers!r} in "
                             f"{config.dtype}: set warm_start=False to start afresh")
        if classes is not None and not np.array_equal(classes, self.classes_):
            raise ValueError(f"y's classes {list(classes)} are not those fitted, "
                             f"{list(self.classes_)}: set warm_start=False to start afresh")

    def _train(self, config: TrainConfig, X: np.ndarray, codes: np.ndarray,
               optimizer: Optimizer, callbacks: Sequence[Callback] = (),
               validation: tuple[np.ndarray, np.ndarray] | None = None,
               epochs: int = 1, iterations: int | None = None) -> None:
        """Train the network on rows ``X`` (``run.train_network``) and add the run to the
        records."""
        shape = self.input_shape_
        if validation is not None:
            validation = (validation[0].reshape(-1, *shape), validation[1])
        history = train_network(self.model_, optimizer, config, X.reshape(len(X), *shape), codes,
                                self._rng, callbacks=callbacks, verbose=self.verbose,
                                validation=validation, epochs=epochs, iterations=iterations)
        self._record(history, validation is not None)

    def _record(self, history: History, validated: bool) -> None:
        self.history_ = history
        self.n_iter_ += history.epochs
        self.loss_curve_ += history.epoch_loss
        if validated:
            self.validation_scores_ = [*(self.validation_scores_ or []),
                                       *history.epoch_val_accuracy]
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)

    def fit(self, X: Any, y: Any) -> MnistnpClassifier:
        """Train on ``X`` and labels ``y``, afresh (or on from the fitted network: ``warm_start``).

        For ``max_iter`` epochs under the recipe's schedule; with ``early_stopping``, part of
        the set is held out and the best epoch's weights are kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
            Rows of numbers (floats, or uint8 pixels 0-255), or grey images.
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings).

        Returns
        -------
        self : MnistnpClassifier
            The classifier, fitted.

        Raises
        ------
        ValueError
            For a bad parameter, input scikit-learn refuses, a single class, or (with
            ``warm_start``) a network or classes other than those fitted.
        """
        warm = bool(self.warm_start) and hasattr(self, "model_")
        X, y, image_shape = validate_input(self, X, y, reset=not warm)
        seed = seed_of(self.random_state)
        config = self.train_config(seed)
        if warm:
            self._check_continues(config, unique_labels(y))
            samples(X, image_shape, self.model_.takes_pixels, self.input_shape_)
        else:
            self._start(config, X, unique_labels(y), image_shape)
        codes = label_codes(self.classes_, y)
        X, codes, validation = (validation_split(X, codes, self.validation_fraction, seed)
                                if self.early_stopping else (X, codes, None))
        optimizer = make_optimizer(config)
        steps = ShuffledBatches(len(X), config.batch_size).steps_per_epoch
        total = config.iterations or config.epochs * steps
        schedule = make_schedule(config, steps, total)
        self._optimizer = None  # a partial_fit after fit starts at the peak rate again
        self._train(config, X, codes, optimizer, [LearningRateScheduler(schedule)], validation,
                    config.epochs, config.iterations)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MnistnpClassifier:
        """One epoch over ``X`` and ``y`` at the optimizer's peak rate.

        The rate stays constant (no schedule, no early stopping), and the optimizer's state is
        kept from call to call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
            Rows of numbers (floats, or uint8 pixels 0-255), or grey images, as in ``fit``.
        y : array-like of shape (n_samples,)
            Their class labels, each among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label y may hold: required on the first call, optional (and checked)
            after.

        Returns
        -------
        self : MnistnpClassifier
            The classifier, trained one epoch more.

        Raises
        ------
        ValueError
            For a first call without ``classes``, labels not among them, or classes other
            than those fitted.
        """
        first = not hasattr(self, "model_")
        X, y, image_shape = validate_input(self, X, y, reset=first)
        config = self.train_config(seed_of(self.random_state) if first else 0)
        given = None if classes is None else unique_labels(classes)
        if first:
            if given is None:
                raise ValueError("classes must be given on the first call to partial_fit: "
                                 "every label y may hold")
            self._start(config, X, given, image_shape)
        else:
            self._check_continues(config, given)
            samples(X, image_shape, self.model_.takes_pixels, self.input_shape_)
        codes = label_codes(self.classes_, y)
        if self._optimizer is None:
            self._optimizer = make_optimizer(config)
        self._train(config, X, codes, self._optimizer, [])
        return self

    # -- prediction ------------------------------------------------------------------------

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X, _, image_shape = validate_input(self, X, reset=False)
        rows = samples(X, image_shape, self.model_.takes_pixels, self.input_shape_)
        model = self.model_
        model.check_pixels(rows)
        step = model.eval_rows
        return np.concatenate([model.forward(rows[i:i + step]) for i in range(0, len(rows), step)])

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
            Samples as in ``fit``: rows of the fitted width, or images of the fitted shape.

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype of ``classes_``
            Each sample's class, one of ``classes_``.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
            Samples as in ``predict``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), dtype float64
            The log-softmax of the network's logits.
        """
        return log_softmax(self._logits(X).astype(np.float64))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
            Samples as in ``predict``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float64
            Each row sums to 1.
        """
        return np.exp(self.predict_log_proba(X))

    # -- scikit-learn's protocols ------------------------------------------------------------

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # grey images (n_samples, height, width)
        return tags

    def __getstate__(self) -> dict[str, Any]:
        """The estimator for pickle: the network as its spec and arrays, since a model's
        layers hold views into one buffer that pickle would copy apart."""
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": pack(state["model_"])}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "model_" in state:
            state = {**state, "model_": unpack(state["model_"])}
        super().__setstate__(state)
