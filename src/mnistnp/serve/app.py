"""The WSGI application behind ``mnistnp serve``: the drawing page, its static files and the JSON
API (``POST /api/predict``, ``GET /api/model``), over models fixed when it is made."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from ..errors import ImageError
from .payload import BadRequest, digit_from_body
from .served import ServedModel

MAX_BODY = 1 << 20  # bytes; a drawing's PNG is a few kB, a phone photo's JPEG fits too
# The page's files, read once from the package: the only files the server ever sends.
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/page.js": ("page.js", "text/javascript; charset=utf-8"),
          "/page.css": ("page.css", "text/css; charset=utf-8")}

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class App:
    """The server's WSGI application: ``app(environ, start_response)``.

    Parameters
    ----------
    models : sequence of ServedModel
        The models, fixed for the application's life; a request picks one by its index
        (``?model=1``), never by a path.
    """

    def __init__(self, models: Sequence[ServedModel]) -> None:
        if not models:
            raise ValueError("App needs at least one model")
        self.models = list(models)
        folder = resources.files(__package__) / "static"
        self.files = {route: ((folder / name).read_bytes(), kind)
                      for route, (name, kind) in STATIC.items()}
        self.routes: dict[str, tuple[str, Callable[[Environ], dict[str, Any]]]] = {
            "/api/predict": ("POST", self.predict), "/api/model": ("GET", self.model_info)}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO") or "/", environ["REQUEST_METHOD"]
        try:
            if path in self.files:
                if method not in ("GET", "HEAD"):
                    raise BadRequest(405, f"{path}: only GET is allowed, not {method}")
                body, kind = self.files[path]
                return _respond(start_response, 200, body, kind,
                                b"" if method == "HEAD" else body)
            if path not in self.routes:
                raise BadRequest(404, f"{path}: no such page (the API is /api/predict and "
                                 "/api/model)")
            allowed, handler = self.routes[path]
            if method != allowed:
                raise BadRequest(405, f"{path}: only {allowed} is allowed, not {method}")
            return _json(start_response, 200, handler(environ))
        except BadRequest as e:
            allow = [("Allow", self._allowed(path))] if e.status == 405 else []
            return _json(start_response, e.status, {"error": str(e)}, allow)

    def _allowed(self, path: str) -> str:
        return "GET, HEAD" if path in self.files else self.routes[path][0]

    def _model(self, environ: Environ) -> ServedModel:
        """The model a request picks by ``?model=N`` (default 0)."""
        given = parse_qs(environ.get("QUERY_STRING", "")).get("model", ["0"])[-1]
        last = len(self.models) - 1
        if not given.isdigit() or int(given) > last:
            raise BadRequest(400, f"model={given}: expected a model's index, 0"
                             f"{f'-{last}' if last else ''}")
        return self.models[int(given)]

    def model_info(self, environ: Environ) -> dict[str, Any]:
        """``GET /api/model``: the model's description, and how many models are served.

        Parameters
        ----------
        environ : dict
            The WSGI environ.

        Returns
        -------
        dict
            ``ServedModel.info`` of the chosen model, with ``index`` and ``models`` (the count).
        """
        chosen = self._model(environ)
        return {"index": self.models.index(chosen), "models": len(self.models),
                **chosen.info()}

    def predict(self, environ: Environ) -> dict[str, Any]:
        """``POST /api/predict``: the chosen model's answer for the digit in the body.

        Parameters
        ----------
        environ : dict
            The WSGI environ; the body is an image file's bytes or JSON (see ``payload``).

        Returns
        -------
        dict
            ``ServedModel.answer``'s fields, with ``image`` (the 28x28 model input as rows of
            0-255), ``warnings`` (what ``predict`` would warn of, such as an image of several
            frames, of which only the first is read; usually empty) and ``ms`` (the time to
            prepare and run it, in milliseconds).
        """
        start = time.perf_counter()
        served = self._model(environ)
        body = _read_body(environ)
        notes: list[str] = []
        try:
            image = digit_from_body(body, environ.get("CONTENT_TYPE", ""), served.refit, notes)
        except ImageError as e:
            raise BadRequest(400, str(e)) from None
        answer = served.answer(image)
        answer["image"] = image.tolist()
        answer["warnings"] = notes
        answer["ms"] = round((time.perf_counter() - start) * 1000, 3)
        return answer


def _read_body(environ: Environ) -> bytes:
    """The request's body, refused with 413 when its declared length is over MAX_BODY.

    The server in front (waitress, ``max_request_body_size``) refuses longer bodies before
    buffering them, chunked ones by counting; this check holds under any other server too.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest(400, "Content-Length is not a number") from None
    if length > MAX_BODY:
        raise BadRequest(413, f"request body: {length:,} bytes, more than the {MAX_BODY:,} "
                         "allowed")
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    return body


def _json(start_response: StartResponse, status: int, data: dict[str, Any],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(data, separators=(",", ":")).encode()
    return _respond(start_response, status, body, "application/json", body, headers)


def _respond(start_response: StartResponse, status: int, content: bytes, kind: str,
             sent: bytes, headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    """Start the response: ``content``'s length and type, with ``sent`` as the body (empty for
    HEAD)."""
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
              413: "Content Too Large"}[status]
    start_response(f"{status} {reason}", [
        ("Content-Type", kind), ("Content-Length", str(len(content))),
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
        *(headers or [])])
    return [sent]
