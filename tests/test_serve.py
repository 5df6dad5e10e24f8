"""``mnistnp.serve`` over HTTP: the page and its files, the prediction API and its answers (the
same as ``predict``'s), every error status, and 50 clients at once."""

from __future__ import annotations

import io
import json
import socket
import struct
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Mnist, cli
from PIL import Image

import mnistnp
from mnistnp.describe import describe
from mnistnp.errors import MnistnpWarning
from mnistnp.images import load_digit, read_digit
from mnistnp.nn import Dense, Sequential
from mnistnp.serve import MAX_BODY, App, ServedModel, running

pytest.importorskip("waitress")


def png_bytes(pixels: np.ndarray) -> bytes:
    """An MNIST digit as a user would draw it: dark on white, 200x200, as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(255 - pixels).resize((200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def request(url: str, body: bytes | None = None, kind: str = "image/png",
            method: str | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of one request (error statuses included)."""
    headers = {"Content-Type": kind} if body is not None else {}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, model: Sequential) -> Path:
    path = tmp_path_factory.mktemp("serve") / "mlp.npz"
    mnistnp.save_model(path, model, {"dataset": "mnist", "metrics": {"test_accuracy": 0.9}})
    return path


@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "cnn.npz"
    net = mnistnp.network("conv:4:3,maxpool:2,dense:16", (28, 28), 10,
                          rng=np.random.default_rng(0))
    mnistnp.save_model(path, net, {"dataset": "mnist"})
    return path


@pytest.fixture(scope="module")
def url(model_file: Path, cnn_file: Path) -> Iterator[str]:
    with running(App([ServedModel(model_file), ServedModel(cnn_file)])) as base:
        yield base


def test_the_page_and_its_files_come_from_the_package_and_name_no_other_site(url: str
                                                                             ) -> None:
    for path, kind in [("", "text/html"), ("page.js", "text/javascript"),
                       ("page.css", "text/css")]:
        with urllib.request.urlopen(url + path) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(kind)
            text = response.read().decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_model_info_describes_each_model(url: str, model: Sequential) -> None:
    status, info, _ = request(url + "api/model")
    assert status == 200
    assert (info["index"], info["models"], info["file"]) == (0, 2, "mlp.npz")
    assert info["totals"]["parameters"] == model.num_params
    assert info["metrics"] == {"test_accuracy": 0.9} and info["shows"] == "hidden"
    status, info, _ = request(url + "api/model?model=1")
    assert (status, info["file"], info["shows"]) == (200, "cnn.npz", "feature_maps")


def test_model_info_names_no_folder_of_the_machine(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    folder = str(tmp_path / "private-data")
    mnistnp.save_model(path, mnistnp.mlp([784, 4, 10], np.random.default_rng(0)),
                       {"dataset": "mnist", "data_dir": folder, "config": {"data_dir": folder}})
    assert folder in json.dumps(describe(mnistnp.load_model(path)))  # what is left out
    info = ServedModel(path).info()
    assert folder not in json.dumps(info) and str(tmp_path) not in json.dumps(info)
    assert info["file"] == "m.npz"


def test_a_drawing_gets_predicts_answer_and_the_image_the_model_saw(
        url: str, model: Sequential, model_file: Path, mnist: Mnist, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    (_, _), (x_test, _) = mnist
    png = png_bytes(x_test[0])
    status, answer, _ = request(url + "api/predict", png)
    assert status == 200
    seen = np.array(answer["image"], dtype=np.uint8)
    np.testing.assert_array_equal(seen, read_digit(png, "x"))  # predict's preparation
    p = model.predict_proba(seen[None])[0]
    np.testing.assert_allclose(answer["probabilities"], p, atol=1e-5)
    assert answer["class"] == int(p.argmax()) and answer["ms"] > 0
    # The command line reads the same file the same way.
    (tmp_path / "digit.png").write_bytes(png)
    assert cli("predict", "--model", model_file, "--json", tmp_path / "digit.png") == 0
    line = json.loads(capsys.readouterr().out)
    assert line["prediction"] == answer["class"]
    assert line["probability"] == pytest.approx(max(answer["probabilities"]), abs=1e-5)


def test_an_image_of_several_frames_is_answered_with_the_warning_in_the_answer(
        url: str, mnist: Mnist) -> None:
    """The first frame is read, as predict reads it, and the answer to this request says so;
    nothing is warned in the server's process, where other requests' answers cannot say it."""
    (_, _), (x_test, _) = mnist
    frames = [Image.fromarray(255 - x_test[i]) for i in (0, 1)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    first = io.BytesIO()
    frames[0].save(first, "GIF")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, answer, _ = request(url + "api/predict", buffer.getvalue(), "image/gif")
        _, alone, _ = request(url + "api/predict", first.getvalue(), "image/gif")
    assert status == 200
    assert answer["warnings"] == [
        "request body: holds several frames or pages; only the first is read"]
    assert answer["image"] == alone["image"] and alone["warnings"] == []
    assert not [w for w in caught if issubclass(w.category, MnistnpWarning)]


def test_a_json_array_is_prepared_as_the_same_pixels_in_a_file(url: str, mnist: Mnist) -> None:
    (_, _), (x_test, _) = mnist
    drawn = 255 - x_test[4]  # dark on white, unframed: fitted and centred first
    buffer = io.BytesIO()
    Image.fromarray(drawn).save(buffer, "PNG")
    status, answer, _ = request(url + "api/predict",
                                json.dumps({"image": drawn.tolist()}).encode(),
                                "application/json")
    assert status == 200
    np.testing.assert_array_equal(answer["image"], read_digit(buffer.getvalue(), "x"))
    assert answer["image"] != x_test[4].tolist()


def test_the_image_round_trips_through_json_and_png(url: str, mnist: Mnist) -> None:
    (_, _), (x_test, _) = mnist
    status, first, _ = request(url + "api/predict", png_bytes(x_test[1]))
    assert status == 200
    # The image the model saw, sent back as JSON, is framed already and taken as it is.
    status, again, _ = request(url + "api/predict", json.dumps({"image": first["image"]}).encode(),
                               "application/json")
    assert status == 200 and again["image"] == first["image"]
    assert again["probabilities"] == first["probabilities"]


def test_hidden_layers_and_feature_maps_are_the_layers_outputs(url: str, model: Sequential,
                                                               mnist: Mnist) -> None:
    (_, _), (x_test, _) = mnist
    _, answer, _ = request(url + "api/predict", png_bytes(x_test[2]))
    (hidden,) = answer["activations"]["layers"]  # 784-100-10: one hidden layer
    seen = np.array(answer["image"], dtype=np.float64).reshape(-1) / 255
    dense = next(layer for layer in model.layers if isinstance(layer, Dense))
    expected = np.maximum(seen @ dense.W + dense.b, 0)  # the first hidden layer, by hand
    np.testing.assert_allclose(hidden["values"], expected, atol=1e-3)
    _, answer, _ = request(url + "api/predict?model=1", png_bytes(x_test[2]))
    maps = answer["activations"]
    assert maps["kind"] == "feature_maps" and maps["shape"] == [4, 28, 28]


@pytest.mark.parametrize(("body", "kind", "says"), [
    (b"this is no image", "image/png", "not a PNG, JPEG"),
    (b"", "image/png", "empty"),
    (b"{nope", "application/json", "not valid JSON"),
    (b'[1, 2]', "application/json", 'JSON object with an "image"'),
    (json.dumps({"image": [[0] * 28] * 27}).encode(), "application/json", "got 27x28"),
    (json.dumps({"image": [[0] * 27] * 28}).encode(), "application/json", "got 28x27"),
    (json.dumps({"image": [[0] * 28] * 27 + [[0] * 27 + [300]]}).encode(), "application/json",
     '"image"[27][27] is 300'),
    (json.dumps({"image": [[0] * 28] * 28}).encode(), "application/json", "blank"),
])
def test_bad_bodies_get_400_with_the_reason(url: str, body: bytes, kind: str, says: str
                                            ) -> None:
    status, answer, _ = request(url + "api/predict", body, kind)
    assert status == 400
    assert says in answer["error"] and answer["error"].startswith("request body")


def test_a_truncated_image_gets_400(url: str, mnist: Mnist) -> None:
    (_, _), (x_test, _) = mnist
    png = png_bytes(x_test[0])
    status, answer, _ = request(url + "api/predict", png[:len(png) // 2])
    assert status == 400 and "request body" in answer["error"]


def test_an_image_declaring_huge_dimensions_gets_400_without_decoding(url: str) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)  # 10^10 grey pixels
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    status, answer, _ = request(url + "api/predict", png)
    assert status == 400 and "too large" in answer["error"]


def test_unknown_paths_get_404_and_no_path_reads_a_file(url: str) -> None:
    for path in ["nothing", "api/predictx", "../pyproject.toml", "static/page.js",
                 "%2e%2e/%2e%2e/etc/passwd", "api/model/../../../etc/passwd"]:
        status, answer, _ = request(url + path)
        assert status == 404, path
        assert "no such page" in answer["error"]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "api/predict", "POST"), ("PUT", "api/predict", "POST"),
    ("POST", "api/model", "GET"), ("DELETE", "", "GET, HEAD"), ("POST", "page.js", "GET, HEAD"),
])
def test_wrong_methods_get_405_naming_the_allowed_one(url: str, method: str, path: str,
                                                      allowed: str) -> None:
    status, answer, headers = request(url + path, b"{}" if method in ("PUT", "POST") else None,
                                      method=method)
    assert status == 405 and headers["Allow"] == allowed
    assert f"not {method}" in answer["error"]


@pytest.mark.parametrize("query", ["model=2", "model=-1", "model=x", "model=1.0"])
def test_a_model_index_out_of_range_gets_400(url: str, query: str) -> None:
    status, answer, _ = request(f"{url}api/model?{query}")
    assert status == 400 and "expected a model's index, 0-1" in answer["error"]


def raw_request(url: str, head: bytes, body: Iterable[bytes] = ()) -> bytes:
    """Send ``head`` then the pieces of ``body`` on a socket until the server answers; its
    first 4 kB. The server may answer (and stop reading) before the body is all sent."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head)
        s.setblocking(False)
        answer = b""
        for piece in body:
            try:
                answer += s.recv(4096)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                s.sendall(piece)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
        s.setblocking(True)
        while b"\r\n\r\n" not in answer:
            got = s.recv(4096)
            if not got:
                break
            answer += got
        return answer


def test_a_body_declared_over_1_mb_gets_413_before_it_is_sent(url: str) -> None:
    head = (f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\n\r\n").encode()
    assert raw_request(url, head).startswith(b"HTTP/1.1 413")  # not one body byte sent


def test_a_chunked_body_over_1_mb_gets_413_as_it_comes(url: str) -> None:
    head = (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"%x\r\n%s\r\n" % (64 * 1024, b"\0" * 64 * 1024)
    sent = []

    def pieces() -> Iterator[bytes]:
        for _ in range(200):  # 12.5 MB, far more than the server takes
            sent.append(1)
            yield piece
    assert raw_request(url, head, pieces()).startswith(b"HTTP/1.1 413")
    assert len(sent) < 200


def test_a_body_of_exactly_1_mb_is_read(url: str) -> None:
    status, answer, _ = request(url + "api/predict", b"\0" * MAX_BODY)
    assert status == 400 and "not a PNG, JPEG" in answer["error"]


def test_fifty_clients_at_once_each_get_their_own_answer(url: str, model: Sequential,
                                                         mnist: Mnist) -> None:
    (_, _), (x_test, _) = mnist
    pngs = [png_bytes(x_test[i]) for i in range(50)]
    expected = [model.predict_proba(read_digit(png, "x")[None])[0] for png in pngs]
    assert len({int(p.argmax()) for p in expected}) >= 8  # a mix-up of answers would show

    def ask(i: int) -> tuple[int, Any]:
        if i % 5 == 4:  # bad requests among them change nobody's answer
            request(url + "api/predict", b"junk")
        status, answer, _ = request(url + "api/predict", pngs[i])
        return status, answer["probabilities"]
    with ThreadPoolExecutor(max_workers=50) as pool:
        got = list(pool.map(ask, range(50)))
    assert [status for status, _ in got] == [200] * 50
    np.testing.assert_allclose([p for _, p in got], expected, atol=1e-5)


def test_an_uploads_bytes_are_read_as_the_same_file_is(mnist: Mnist, tmp_path: Path) -> None:
    (_, _), (x_test, _) = mnist
    png = png_bytes(x_test[3])
    (tmp_path / "digit.png").write_bytes(png)
    np.testing.assert_array_equal(read_digit(png, "x"), load_digit(tmp_path / "digit.png"))
