"""The HTTP server in front of ``App``: waitress, with the body limit set where it reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .app import MAX_BODY, App

THREADS = 8  # waitress's workers; requests beyond them wait in its queue, never refused


def make_server(app: App, host: str = "127.0.0.1", port: int = 8000) -> Any:
    """A waitress server for ``app`` bound to ``host``:``port`` (0 for a free port), not started.

    Parameters
    ----------
    app : App
        The application.
    host : str, default "127.0.0.1"
        The address to bind: loopback unless the caller chose otherwise.
    port : int, default 8000
        The port; 0 picks a free one (``server.effective_port`` says which).

    Returns
    -------
    waitress.server.BaseWSGIServer
        Bound and listening; ``run()`` serves until ``close()``.

    Raises
    ------
    ModuleNotFoundError
        If waitress is not installed (``pip install 'mnistnp[serve]'``).
    OSError
        If the address cannot be bound (in use, or not this machine's).
    """
    from waitress.server import create_server

    # waitress refuses a body of max_request_body_size bytes or more, so one of MAX_BODY passes.
    # Its refusal comes from the Content-Length header, or for a chunked body from counting
    # what arrives, before the body is ever buffered whole.
    return create_server(app, host=host, port=port, threads=THREADS,
                         max_request_body_size=MAX_BODY + 1, ident="mnistnp")


@contextmanager
def running(app: App, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread for the ``with`` block; yields its base URL.

    For a notebook, a benchmark or a test that wants the server beside it in one process.

    Parameters
    ----------
    app : App
        The application.
    host : str, default "127.0.0.1"
        The address to bind.
    port : int, default 0
        The port; 0 picks a free one.

    Yields
    ------
    str
        The URL the server answers on, such as ``"http://127.0.0.1:41234/"``.
    """
    server = make_server(app, host, port)
    closing = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except OSError:
            # Closing the sockets from this thread can catch the loop inside select() on them
            # (EBADF): an ending, not an error.
            if not closing.is_set():
                raise

    thread = threading.Thread(target=serve, name="mnistnp-serve", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}/"
    finally:
        closing.set()
        server.close()
        thread.join(timeout=10)
