"""MnistnpClassifier: scikit-learn's estimator API over a TrainConfig, mnistnp's networks and
its Trainer."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ..callbacks import Callback, EarlyStopping, LearningRateScheduler
from ..config import RECIPES, ModelConfig, TrainConfig
from ..nn import log_softmax, network
from ..optim import Optimizer
from ..pipeline import make_optimizer, make_schedule
from ..progress import TextLog
from ..sampling import ShuffledBatches
from ..training import ClipGlobalNorm, History, Trainer
from .inputs import Shape, as_rows, check_images, input_shape, label_codes, validation_split
from .packing import pack, unpack


class MnistnpClassifier(ClassifierMixin, BaseEstimator):
    """A neural-network classifier (an MLP or a CNN) trained by mnistnp, with scikit-learn's
    estimator API: ``fit``, ``partial_fit``, ``predict``, ``predict_proba``, ``score``.

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
        """The mnistnp TrainConfig these parameters make (the recipe, overridden by every
        parameter given), with ``seed``; ValueError naming the first bad parameter."""
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe {self.recipe!r}: choose from {sorted(RECIPES)}")
        if self.layers is not None and not isinstance(self.layers, str):
            raise ValueError(f"layers {self.layers!r}: give a layer string such as "
                             "'dense:256,dropout:0.2'")
        layers = self.layers
        if self.hidden_layer_sizes is not None:
            if layers is not None:
                raise ValueError("layers and hidden_layer_sizes are both given: the layers say "
                                 "the whole network; give one or the other")
            widths = np.atleast_1d(np.asarray(self.hidden_layer_sizes)).ravel()
            layers = ModelConfig.mlp(tuple(int(w) for w in widths)).layers
        batch = self.batch_size
        if batch != "auto" and not (isinstance(batch, numbers.Integral) and batch >= 1):
            raise ValueError(f"batch_size {batch!r}: must be 'auto' or an int >= 1")
        early = bool(self.early_stopping)
        if early and not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction {self.validation_fraction!r}: must be in "
                             "(0, 1)")
        return RECIPES[self.recipe].with_overrides(
            layers=layers, optimizer=self.solver, lr=self.learning_rate_init,
            weight_decay=self.alpha, schedule=self.schedule,
            batch_size=None if batch == "auto" else int(batch), epochs=self.max_iter,
            val_split=self.validation_fraction if early else 0,
            patience=self.n_iter_no_change if early else None, dtype=self.dtype, seed=seed,
            log_every=0)

    def _seed(self) -> int:
        """An int random_state is the seed itself (``TrainConfig.seed``); otherwise one
        is drawn from it (None: NumPy's global state, as scikit-learn does)."""
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    # -- input -----------------------------------------------------------------------------

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True
                  ) -> tuple[np.ndarray, Any, Shape | None]:
        """X as rows (n_samples, n_features) of any numeric dtype (uint8 kept), y (if given,
        even as None: scikit-learn's message) checked as class labels, and the image shape if
        X came as images (n_samples, height, width)."""
        X, image_shape = as_rows(X)
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, dtype="numeric", reset=reset), None, image_shape
        X, y = validate_data(self, X, y, dtype="numeric", reset=reset)
        check_classification_targets(y)
        return X, y, image_shape

    def _samples(self, X: np.ndarray, image_shape: Shape | None) -> np.ndarray:
        """Rows (n_samples, n_features) as the network takes them, (n_samples,
        *input_shape_); ValueError for images of another shape than fitted, or uint8
        pixels for a classifier fitted on floats."""
        if X.dtype == np.uint8 and not self.model_.takes_pixels:
            raise ValueError("X is uint8, but the classifier was fitted on numbers taken as "
                             "they are, not on uint8 pixels: give X as in fit")
        check_images(image_shape, self.input_shape_)
        return X.reshape(len(X), *self.input_shape_)

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
        """Run mnistnp's Trainer on rows ``X`` (its batches, clipping, ``callbacks``, early
        stopping on ``validation``) and add the run to the records."""
        early = EarlyStopping(config.patience) if validation and config.patience else None
        watchers = [*callbacks, *([TextLog(print)] if self.verbose else []),
                    *([early] if early else [])]
        hooks = [ClipGlobalNorm(config.clip_norm)] if config.clip_norm else []
        trainer = Trainer(self.model_, optimizer, ShuffledBatches(len(X), config.batch_size),
                          grad_hooks=hooks, callbacks=watchers)
        shape = self.input_shape_
        if validation is not None:
            validation = (validation[0].reshape(-1, *shape), validation[1])
        history = trainer.fit(X.reshape(len(X), *shape), codes, rng=self._rng, epochs=epochs,
                              iterations=iterations, validation=validation)
        self.model_.release_scratch()
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
        """Train on ``X`` and labels ``y``: afresh, or on from the fitted network with
        ``warm_start``.

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
        """
        warm = bool(self.warm_start) and hasattr(self, "model_")
        X, y, image_shape = self._validate(X, y, reset=not warm)
        seed = self._seed()
        config = self.train_config(seed)
        if warm:
            self._check_continues(config, unique_labels(y))
            self._samples(X, image_shape)
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
        """One epoch over ``X`` and ``y`` at the optimizer's peak rate, constant (no schedule,
        no early stopping), the optimizer's state kept from call to call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every label y may hold: required on the first call, optional (and checked)
            after.

        Returns
        -------
        self : MnistnpClassifier
        """
        first = not hasattr(self, "model_")
        X, y, image_shape = self._validate(X, y, reset=first)
        config = self.train_config(self._seed() if first else 0)
        given = None if classes is None else unique_labels(classes)
        if first:
            if given is None:
                raise ValueError("classes must be given on the first call to partial_fit: "
                                 "every label y may hold")
            self._start(config, X, given, image_shape)
        else:
            self._check_continues(config, given)
            self._samples(X, image_shape)
        codes = label_codes(self.classes_, y)
        if self._optimizer is None:
            self._optimizer = make_optimizer(config)
        self._train(config, X, codes, self._optimizer, [])
        return self

    # -- prediction ------------------------------------------------------------------------

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X, _, image_shape = self._validate(X, reset=False)
        samples = self._samples(X, image_shape)
        model = self.model_
        model.check_pixels(samples)
        step = model.eval_rows
        return np.concatenate([model.forward(samples[i:i + step])
                               for i in range(0, len(samples), step)])

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)

        Returns
        -------
        y : ndarray of shape (n_samples,), of ``classes_``' dtype
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), float64
        """
        return log_softmax(self._logits(X).astype(np.float64))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ndarray of shape (n_samples,
            height, width)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float64, rows summing to 1
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

