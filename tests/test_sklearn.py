"""mnistnp.sklearn: MnistnpClassifier passes scikit-learn's estimator checks and works in its
tools (Pipeline, GridSearchCV, cross_val_score, clone, pickle), on tiny generated images."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_arrays

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from mnistnp import RECIPES, load_model, save_model  # noqa: E402
from mnistnp.sklearn import MnistnpClassifier  # noqa: E402

GUIDE = (Path(__file__).resolve().parents[1] / "docs" / "sklearn.md").read_text(encoding="utf-8")

# The checks scikit-learn itself skips here, and why (none is skipped by us).
SKIPPED = {
    "check_array_api_input": "runs only with SCIPY_ARRAY_API=1 and an array library; "
                             "mnistnp computes in NumPy only",
}
# In float32, a row's logits depend on where it sits in the batch through the BLAS kernel's
# rounding (relative differences near 1e-7); these checks demand equality to rtol 1e-7.
# float64 passes them (the second parameter set, with no expected failures).
FLOAT32_ROUNDING = ("predict_proba agrees to float32 rounding (~1e-7), not to the check's "
                    "rtol 1e-7: BLAS rounds a row by its place in the batch")
EXPECTED_FAILED_FLOAT32 = {
    "check_methods_sample_order_invariance": FLOAT32_ROUNDING,
    "check_methods_subset_invariance": FLOAT32_ROUNDING,
}


@pytest.mark.parametrize(("estimator", "expected_failed"), [
    (MnistnpClassifier(), EXPECTED_FAILED_FLOAT32),  # the default recipe, as it comes
    (MnistnpClassifier(dtype="float64"), {}),
    (MnistnpClassifier(hidden_layer_sizes=16, batch_size=32, max_iter=30, early_stopping=True,
                       n_iter_no_change=5, dtype="float64"), {}),
], ids=["default", "float64", "early-stopping"])
def test_check_estimator_passes(estimator: MnistnpClassifier,
                                expected_failed: dict[str, str]) -> None:
    results = check_estimator(estimator, expected_failed_checks=expected_failed, on_skip=None)
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= set(SKIPPED), skipped
    assert all(r["status"] in ("passed", "xfail", "skipped") for r in results)
    assert len(results) > 40  # the full suite ran, not a handful


def digits(n: int = 600, seed: int = 0, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Tiny 28x28 uint8 images (a bright block whose place is the class) and labels."""
    data = tiny_arrays(seed, n_train=n, n_test=10)
    y = data["train_labels"].astype(np.int64)
    return data["train_images"], y if labels is None else np.asarray(labels)[y]


def rows(images: np.ndarray) -> np.ndarray:
    """Images as the float rows (n_samples, 784) in [0, 1] that scikit-learn users pass."""
    return images.reshape(len(images), -1) / 255.0


def small(**params: Any) -> MnistnpClassifier:
    settings: dict[str, Any] = {"hidden_layer_sizes": (32,), "max_iter": 5, "batch_size": 32,
                                "random_state": 0}
    return MnistnpClassifier(**{**settings, **params})


def test_parameters_map_onto_the_recipe() -> None:
    config = MnistnpClassifier(solver="sgd", learning_rate_init=0.1, alpha=1e-4, max_iter=3,
                               batch_size=64, hidden_layer_sizes=[20, 10]).train_config(7)
    assert (config.optimizer.name, config.optimizer.lr) == ("sgd", 0.1)
    assert config.optimizer.settings["weight_decay"] == 1e-4
    assert (config.epochs, config.batch_size, config.seed) == (3, 64, 7)
    assert config.model.layers == "dense:20,dense:10"
    default = MnistnpClassifier().train_config()
    assert default.optimizer == RECIPES["default"].optimizer
    assert default.model == RECIPES["default"].model and default.epochs == 20
    assert default.val_split == 0 and default.patience is None  # no hold-out unless asked
    early = MnistnpClassifier(early_stopping=True, n_iter_no_change=4).train_config()
    assert (early.val_split, early.patience) == (0.1, 4)
    assert MnistnpClassifier(recipe="cnn").train_config().model == RECIPES["cnn"].model


@pytest.mark.parametrize(("params", "message"), [
    ({"recipe": "fast"}, "recipe 'fast'"),
    ({"layers": "dense:8", "hidden_layer_sizes": 8}, "both given"),
    ({"layers": "dense:8,nope"}, "unknown layer 'nope'"),
    ({"batch_size": 0}, "batch_size 0"),
    ({"solver": "adamax"}, "adamax"),
    ({"early_stopping": True, "validation_fraction": 1.5}, "validation_fraction 1.5"),
])
def test_bad_parameters_are_named_at_fit(params: dict[str, Any], message: str) -> None:
    x, y = digits(40)
    clf = MnistnpClassifier(**params)
    with pytest.raises(ValueError, match=message):
        clf.fit(x, y)
    assert not hasattr(clf, "model_")


def test_uint8_images_and_float_rows_make_the_same_network() -> None:
    x, y = digits()
    on_images = small(dtype="float64").fit(x, y)
    on_rows = small(dtype="float64").fit(rows(x), y)
    assert on_images.input_shape_ == (28, 28) and on_rows.input_shape_ == (784,)
    assert on_images.n_features_in_ == on_rows.n_features_in_ == 784
    # uint8 is divided by 255 inside the network: the same numbers as x / 255 outside it.
    np.testing.assert_allclose(on_images.predict_proba(x), on_rows.predict_proba(rows(x)),
                               atol=1e-6)
    assert on_images.score(x, y) > 0.9
    # A classifier fitted on images takes the same images as rows, and vice versa.
    np.testing.assert_array_equal(on_images.predict(x.reshape(len(x), -1)), on_images.predict(x))


def test_mismatched_input_is_refused() -> None:
    x, y = digits(100)
    on_rows = small().fit(rows(x), y)
    with pytest.raises(ValueError, match="uint8"):  # 0-255 pixels for a [0, 1] model
        on_rows.predict(x)
    on_pixels = small().fit(x, y)
    with pytest.raises(ValueError, match="floats in \\[0, 1\\]"):  # x / 255 for a 0-255 model
        on_pixels.predict(rows(x))
    with pytest.raises(ValueError, match="14x56 images"):
        on_pixels.predict(x.reshape(-1, 14, 56))
    with pytest.raises(ValueError, match="1 class"):
        small().fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="grey images"):
        small().fit(x[..., None], y)


def test_a_cnn_reshapes_square_rows_and_refuses_others() -> None:
    x, y = digits(200)
    cnn = small(layers="conv:4:3,maxpool:2", hidden_layer_sizes=None, max_iter=3)
    cnn.fit(rows(x), y)
    assert cnn.input_shape_ == (28, 28)  # 784 features are a 28x28 image
    assert cnn.predict_proba(rows(x[:5])).shape == (5, 10)
    np.testing.assert_array_equal(cnn.predict(x / 255.0), cnn.predict(rows(x)))
    with pytest.raises(ValueError, match="not a square image"):
        clone(cnn).fit(rows(x)[:, :780], y)


def test_probabilities_and_predictions_agree() -> None:
    x, y = digits(200)
    clf = small().fit(x, y)
    proba = clf.predict_proba(x)
    assert proba.dtype == np.float64 and proba.shape == (200, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(proba), atol=1e-12)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[proba.argmax(axis=1)])


def test_string_labels() -> None:
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    x, y = digits(labels=names)
    clf = small().fit(x, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    predicted = clf.predict(x)
    assert set(predicted) <= set(names) and np.mean(predicted == y) > 0.9


def test_pandas_dataframe_input() -> None:
    x, y = digits(200)
    frame = pd.DataFrame(rows(x), columns=[f"pixel{i}" for i in range(784)])
    clf = small().fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_[:2]) == ["pixel0", "pixel1"]
    with pytest.warns(UserWarning, match="feature names"):  # scikit-learn's own check
        from_array = clf.predict(rows(x))
    np.testing.assert_array_equal(clf.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns=str.upper))


def test_random_state_reproduces_and_varies() -> None:
    x, y = digits(200)
    first, again = small(random_state=3).fit(x, y), small(random_state=3).fit(x, y)
    np.testing.assert_array_equal(first.predict_proba(x), again.predict_proba(x))
    other = small(random_state=4).fit(x, y)
    assert not np.array_equal(first.predict_proba(x), other.predict_proba(x))


def test_records_of_a_fit() -> None:
    x, y = digits(300)
    clf = small(max_iter=4).fit(x, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 4
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.best_loss_ == min(clf.loss_curve_)
    early = small(max_iter=30, early_stopping=True, n_iter_no_change=2).fit(x, y)
    assert 1 <= early.n_iter_ == len(early.validation_scores_) <= 30
    assert early.best_validation_score_ == max(early.validation_scores_)
    assert early.best_loss_ is None


def test_warm_start_goes_on_and_cold_start_does_not() -> None:
    x, y = digits(300)
    warm = small(max_iter=2, warm_start=True, schedule="constant").fit(x, y)
    after_two = warm.loss_curve_[-1]
    warm.fit(x, y)
    assert warm.n_iter_ == 4 and len(warm.loss_curve_) == 4
    assert warm.loss_curve_[2] < after_two * 1.5  # went on from the trained weights
    cold = small(max_iter=2, schedule="constant").fit(x, y).fit(x, y)
    assert cold.n_iter_ == 2  # started afresh
    np.testing.assert_array_equal(cold.predict_proba(x),
                                  small(max_iter=2, schedule="constant").fit(x, y)
                                  .predict_proba(x))
    with pytest.raises(ValueError, match="classes"):
        warm.fit(x[y < 5], y[y < 5])
    with pytest.raises(ValueError, match="warm_start=False"):
        warm.set_params(hidden_layer_sizes=(8,)).fit(x, y)


def test_partial_fit() -> None:
    x, y = digits(300)
    clf = small()
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(x, y)
    clf.partial_fit(x[y < 5], y[y < 5], classes=np.arange(10))  # some classes not seen yet
    assert clf.n_iter_ == 1 and clf.predict_proba(x[:3]).shape == (3, 10)
    for _ in range(4):
        clf.partial_fit(x, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 5
    assert clf.score(x, y) > 0.9
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(x, y + 10)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x, y, classes=np.arange(5))


def test_pipeline_with_a_scaler() -> None:
    x, y = digits(300)
    pipe = make_pipeline(StandardScaler(), small()).fit(rows(x), y)
    assert pipe.score(rows(x), y) > 0.9


def test_grid_search_in_two_processes() -> None:
    x, y = digits(300)
    search = GridSearchCV(small(max_iter=3), {"hidden_layer_sizes": [(8,), (32,)]}, cv=2,
                          n_jobs=2)
    search.fit(rows(x), y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_params_["hidden_layer_sizes"] in [(8,), (32,)]
    assert search.score(rows(x), y) > 0.8


def test_cross_val_score() -> None:
    x, y = digits(300)
    scores = cross_val_score(small(), rows(x), y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_clone_keeps_parameters_and_drops_the_fit() -> None:
    x, y = digits(100)
    clf = small(layers="dense:16,dropout:0.1", hidden_layer_sizes=None).fit(x, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")


def test_pickle_round_trip_predicts_and_trains_the_same() -> None:
    x, y = digits(200)
    clf = small(layers="dense:32,dropout:0.2", hidden_layer_sizes=None, warm_start=True)
    clf.fit(x, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    # The copy's weights are one buffer again, and its dropout stream goes on where it was:
    # training both further gives the same network.
    clf.fit(x, y)
    copy.fit(x, y)
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    assert all(np.shares_memory(p, copy.model_.params) for p in copy.model_.param_arrays)


def test_the_network_saves_as_a_model_file(tmp_path: Path) -> None:
    x, y = digits(100)
    clf = small().fit(x, y)
    save_model(tmp_path / "model.npz", clf.model_)
    model = load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(clf.classes_[model.predict(x)], clf.predict(x))


def test_verbose_prints_a_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = digits(100)
    small(max_iter=3, verbose=True).fit(x, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 3


def test_mnistnp_imports_without_scikit_learn() -> None:
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import mnistnp, mnistnp.cli\n"
            "try:\n    import mnistnp.sklearn\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("mnistnp.sklearn needs scikit-learn >= 1.6: "
                                   "pip install 'mnistnp[sklearn]'")


@pytest.mark.slow  # a grid search on 10,000 MNIST images
def test_the_guide_example_runs_as_written(tmp_path: Path) -> None:
    match = re.search(r"^## An example: a pipeline in a grid search\n(.*?)(?=^## |\Z)", GUIDE,
                      re.M | re.S)
    assert match, "no example section in docs/sklearn.md"
    (code,) = re.findall(r"^```python\n(.*?)^```$", match.group(1), re.M | re.S)
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    best, test = done.stdout.splitlines()
    assert re.fullmatch(r"\{'mnistnpclassifier__hidden_layer_sizes': \((100,|256, 128)\)\} "
                        r"0\.9\d{3}", best), best
    assert 0.93 < float(test.removeprefix("test accuracy: ")) < 1, test
    # What the guide says it prints, to BLAS rounding (another CPU may differ in the 3rd digit).
    quoted = re.search(r"`test accuracy: (0\.\d+)`", match.group(1))
    assert quoted and abs(float(quoted.group(1)) - float(test.split()[-1])) < 0.01, test
    assert best.split("}")[0] in match.group(1), best
