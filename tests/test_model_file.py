"""Model files (mnistnp.model_file): exact round trips, writes that are atomic and go to exactly
the path given, and a ModelFileError naming the file for everything that is not a sound model
file."""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnistnp.errors import ModelFileError
from mnistnp.model_file import load_model, save_model
from mnistnp.nn import Sequential, mlp

INFO = {"seed": 7, "dataset": "tiny", "metrics": {"test_accuracy": 0.875, "best_epoch": None},
        "hidden": [8, 6], "note": "ünïcode ✓"}


def small_model(dtype: str = "float32", seed: int = 0) -> Sequential:
    return mlp([16, 8, 6, 4], np.random.default_rng(seed), dtype)


def inputs(n: int = 32) -> np.ndarray:
    return np.random.default_rng(99).integers(0, 256, size=(n, 16), dtype=np.uint8)


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def meta_of(path: Path) -> dict[str, Any]:
    return json.loads(members(path)["meta.json"].tobytes())


def encode_meta(meta: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A sound model file, for the tests that break one thing in it."""
    path = tmp_path / "good.npz"
    save_model(path, small_model(), INFO)
    return path


def rewrite(saved: Path, name: str = "bad.npz", **changes: np.ndarray | None) -> Path:
    """A copy of ``saved`` with members replaced, added or (None) removed, written by np.savez."""
    arrays: dict[str, Any] = members(saved)
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = saved.parent / name
    np.savez(path, **arrays)
    return path


def refused(path: Path, *words: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return message


# --- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_exact(tmp_path: Path, dtype: str) -> None:
    model = small_model(dtype)
    path = tmp_path / "model.npz"
    save_model(path, model, INFO)
    back = load_model(path)
    assert back.params.dtype == np.dtype(dtype)
    assert back.params.tobytes() == model.params.tobytes()  # bit-identical, not just close
    assert back.spec() == model.spec()
    x = inputs()
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_round_trip_after_training_steps(tmp_path: Path) -> None:
    # Weights that are not fresh from the initialiser (views into the flat buffer, updated).
    model = small_model()
    model.params += np.linspace(-1, 1, model.params.size, dtype=np.float32)
    save_model(tmp_path / "m", model)
    back = load_model(tmp_path / "m")
    assert back.params.tobytes() == model.params.tobytes()
    for a, b in zip(back.param_arrays, model.param_arrays):
        np.testing.assert_array_equal(a, b)


def test_info_round_trips(tmp_path: Path) -> None:
    save_model(tmp_path / "m.npz", small_model(), INFO)
    assert load_model(tmp_path / "m.npz").info == INFO
    save_model(tmp_path / "bare.npz", small_model())
    assert load_model(tmp_path / "bare.npz").info == {}


def test_different_models_give_different_files(tmp_path: Path) -> None:
    # Guards the round-trip tests: two seeds really differ, so equality above means something.
    save_model(tmp_path / "a.npz", small_model(seed=0))
    save_model(tmp_path / "b.npz", small_model(seed=1))
    a, b = load_model(tmp_path / "a.npz"), load_model(tmp_path / "b.npz")
    assert not np.array_equal(a.params, b.params)


@pytest.mark.parametrize("name", ["model", "model.bin", "model.npz", "weights.v2"])
def test_the_path_given_is_the_path_written(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    save_model(folder / name, small_model())
    assert sorted(os.listdir(folder)) == [name]  # no suffix added, no temp file left
    assert zipfile.is_zipfile(folder / name)
    load_model(folder / name)


def test_saving_over_an_existing_file_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_model(path, small_model(seed=0))
    save_model(path, small_model(seed=1), {"seed": 1})
    assert os.listdir(tmp_path) == ["m.npz"]
    back = load_model(path)
    assert back.info == {"seed": 1}
    assert back.params.tobytes() == small_model(seed=1).params.tobytes()


def test_a_failed_save_leaves_the_earlier_file_intact(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.npz"
    save_model(path, small_model(seed=0))
    before = path.read_bytes()

    def broken_savez(file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_model(path, small_model(seed=1))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]  # the temp file is gone


def test_an_interrupted_first_save_leaves_nothing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(tmp_path / "m.npz", small_model())
    assert os.listdir(tmp_path) == []


# --- files that are refused ---------------------------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    refused(tmp_path / "absent.npz", "no such")


def test_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "model.npz"
    folder.mkdir()
    refused(folder, "directory")


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY", b"PK\x03\x04", None],
                         ids=["empty", "npy-magic", "zip-magic", "random"])
def test_bytes_that_are_no_model(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(5).bytes(4096) if content is None else content)
    refused(path)


@pytest.mark.parametrize("cut", [1, 300, 0.5])
def test_a_truncated_model_file_is_called_damaged_or_truncated(tmp_path: Path, saved: Path,
                                                               cut: float) -> None:
    data = saved.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:int(len(data) * cut) if cut < 1 else -int(cut)])
    message = refused(path, "damaged or truncated")
    assert "not a NumPy" not in message and "not a zip" not in message


def test_a_file_that_is_no_zip_at_all_is_not_called_truncated(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(5).bytes(4096).replace(b"PK", b"pk"))
    message = refused(path, "not a NumPy .npz file")
    assert "truncated" not in message


def test_a_model_file_with_a_damaged_member_says_damaged(tmp_path: Path, saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    data[200] ^= 0xFF  # inside the first member's data: its CRC no longer matches
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    refused(path, "damaged")


def test_a_single_npy_array(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((3, 3)))
    refused(path)


def test_a_zip_that_is_not_npz(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    refused(path)


def test_a_zip_with_a_raw_meta_member(tmp_path: Path, saved: Path) -> None:
    # Right names, wrong contents: meta.json stored as plain JSON rather than a .npy array.
    path = tmp_path / "raw-meta.npz"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename == "meta.json.npy":
                dst.writestr("meta.json", json.dumps(meta_of(saved)))
            else:
                dst.writestr(info, src.read(info))
    refused(path)


def test_an_npz_without_metadata(saved: Path) -> None:
    refused(rewrite(saved, **{"meta.json": None}), "meta.json")


def test_a_missing_weight(saved: Path) -> None:
    refused(rewrite(saved, **{"layers.4.b": None}), "missing", "layers.4.b")


def test_an_extra_member(saved: Path) -> None:
    refused(rewrite(saved, **{"layers.9.W": np.zeros((2, 2), np.float32)}), "layers.9.W")


def test_a_wrong_shape(saved: Path) -> None:
    w = members(saved)["layers.2.W"]
    assert w.shape == (16, 8)
    refused(rewrite(saved, **{"layers.2.W": np.ascontiguousarray(w.T)}), "layers.2.W", "(8, 16)")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(saved: Path, bad: float) -> None:
    w = members(saved)["layers.4.W"].copy()
    w[2, 1] = bad
    refused(rewrite(saved, **{"layers.4.W": w}), "layers.4.W", "non-finite")


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "complex64"])
def test_weights_that_are_not_real_floats(saved: Path, dtype: str) -> None:
    b = members(saved)["layers.6.b"]
    refused(rewrite(saved, **{"layers.6.b": b.astype(dtype)}), "layers.6.b", dtype)


class _Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_a_pickled_member_is_refused_unexecuted(tmp_path: Path, saved: Path) -> None:
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    path = rewrite(saved, **{"layers.2.b": evil})
    refused(path, "layers.2.b")
    assert not marker.exists()
    # Control: the payload is live, so its absence above means load_model did not unpickle it.
    with np.load(path, allow_pickle=True) as npz:
        npz["layers.2.b"]
    assert marker.exists()


def test_an_unknown_format_version(saved: Path) -> None:
    meta = meta_of(saved)
    meta["format_version"] = 4
    refused(rewrite(saved, **{"meta.json": encode_meta(meta)}), "version", "4")
    del meta["format_version"]
    refused(rewrite(saved, "none.npz", **{"meta.json": encode_meta(meta)}), "version")


@pytest.mark.parametrize("text", [b"not json {", b"\xff\xfe\x00", b'["a", "list"]', b""],
                         ids=["garbage", "not-utf8", "json-list", "empty"])
def test_metadata_that_is_not_a_json_object(saved: Path, text: bytes) -> None:
    refused(rewrite(saved, **{"meta.json": np.frombuffer(text, dtype=np.uint8)}), "metadata")


def test_layer_sizes_that_do_not_chain(saved: Path) -> None:
    meta = meta_of(saved)
    dense = [layer for layer in meta["model"]["layers"] if layer["type"] == "Dense"]
    dense[1]["in_features"] = 9  # the first Dense layer gives 8 outputs
    refused(rewrite(saved, **{"meta.json": encode_meta(meta)}), "layer 4 (Dense)", "expects 9",
            "gets 8")


@pytest.mark.parametrize("change", ["no-layers", "unknown-layer", "bad-width", "bad-dtype"])
def test_architectures_that_cannot_be_built(saved: Path, change: str) -> None:
    meta = meta_of(saved)
    model = meta["model"]
    if change == "no-layers":
        model["layers"] = model["layers"][:2]  # Rescale and Flatten: no weights
    elif change == "unknown-layer":
        model["layers"][2]["type"] = "Conv9000"
    elif change == "bad-width":
        model["layers"][1]["out_features"] = "eight"
    else:
        model["dtype"] = "no-such-dtype"
    refused(rewrite(saved, **{"meta.json": encode_meta(meta)}))


@pytest.mark.parametrize("info", [[1, 2], "text"])
def test_info_that_is_not_an_object(saved: Path, info: object) -> None:
    meta = meta_of(saved)
    meta["info"] = info
    refused(rewrite(saved, **{"meta.json": encode_meta(meta)}), "info")


@pytest.mark.parametrize("dtype", ["int64", "bool", "<U8", "object"])
def test_a_model_dtype_that_is_not_floating_point(saved: Path, dtype: str) -> None:
    # Unchecked, an int64 model loads with its weights truncated to integers and scores 10%
    # without a word; the others fail later, in predict, with a bare TypeError.
    meta = meta_of(saved)
    meta["model"]["dtype"] = dtype
    refused(rewrite(saved, **{"meta.json": encode_meta(meta)}), "dtype")


# ---- size caps: a zip bomb or a huge declared array fails fast, before anything is inflated ----


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    from mnistnp.npzfile import read_npz

    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("layers.1.W.npy", "w") as f:
        for _ in range(4):
            f.write(bytes(1 << 24))  # 64 MiB of zeros deflate to about 64 KB
    assert bomb.stat().st_size < 1 << 20
    # The real cap is 1 GiB; a 32 MiB cap shows the same check without writing gigabytes.
    with pytest.raises(ModelFileError, match=r"declares 67,108,864 bytes of data, more than"):
        read_npz(bomb, max_total=1 << 25)


def test_members_under_the_cap_that_exceed_it_together_are_refused_by_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The cap is on what all members inflate to: ``mnistnp evaluate`` refuses such a file by
    name in one line, without inflating it."""
    from mnistnp import npzfile
    from mnistnp.cli import main

    cap = 1 << 24  # stands for the real 1 GiB, so no gigabytes are written
    monkeypatch.setattr(npzfile.read_npz, "__defaults__", (cap,))
    zeros = np.zeros(cap // 2 // 4, np.float32)  # half the cap each
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, **{f"layers.{i}.W": zeros for i in range(3)})
    with zipfile.ZipFile(bomb) as zf:
        sizes = [info.file_size for info in zf.infolist()]
    assert max(sizes) < cap < sum(sizes) and bomb.stat().st_size < cap // 100
    tracemalloc.start()
    try:
        status = main(["evaluate", "--model", str(bomb), "--dataset", "mnist"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and str(bomb) in err
    assert f"declares {sum(sizes):,} bytes" in err
    assert peak < min(sizes)  # not one member was inflated


def test_a_huge_declared_array_is_refused_before_allocating(tmp_path: Path) -> None:
    import io as stdio

    header = stdio.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)})
    liar = tmp_path / "liar.npz"
    with zipfile.ZipFile(liar, "w") as zf:
        zf.writestr("layers.1.W.npy", header.getvalue() + bytes(64))
    with pytest.raises(ModelFileError, match=r"declares shape \(100000, 100000\)"):
        load_model(liar)
