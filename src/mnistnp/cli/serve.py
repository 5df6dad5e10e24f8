"""``mnistnp serve``: a page to draw digits on, and a small prediction API, for saved models."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from ..errors import MnistnpError


def port_number(text: str) -> int:
    """--port's value: a port number, 0 for a free one."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "serve", help="serve a page to draw digits on, and a prediction API",
        description="Serve a page where you draw a digit and watch the model answer as you "
        "draw (its probabilities, the 28x28 image it sees and its hidden layers or first "
        "feature maps), and a JSON API: POST /api/predict (a PNG or JPEG body, or JSON "
        '{"image": 28x28 of 0-255}) and GET /api/model. Images are prepared as predict '
        "prepares them. Bound to this machine only (127.0.0.1) unless --host says otherwise. "
        "Ctrl-C stops it. Needs waitress: pip install 'mnistnp[serve]'.")
    parser.add_argument("--model", type=Path, action="append", required=True,
                        metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'; give it twice to "
                        "compare two models side by side")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1, this machine "
                        "only; 0.0.0.0 lets anyone who can reach this machine use it)")
    parser.add_argument("--port", type=port_number, default=8000,
                        help="the port to listen on (default: 8000; 0 picks a free one)")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        import waitress  # noqa: F401
        from threadpoolctl import threadpool_limits

        from ..serve import App, ServedModel, make_server
    except ImportError:
        raise MnistnpError("mnistnp serve needs waitress: pip install 'mnistnp[serve]'") \
            from None
    app = App([ServedModel(path) for path in args.model])
    try:
        server = make_server(app, args.host, args.port)
    except OSError as e:
        raise MnistnpError(f"--host {args.host} --port {args.port}: cannot listen there "
                           f"({e.strerror or e})") from None
    try:
        if not _loopback(args.host):
            print(f"mnistnp: listening on {args.host}, not only this machine: anyone who can "
                  "reach it on the network can use the page and the API", file=sys.stderr)
        names = ", ".join(str(path) for path in args.model)
        print(f"serving {names}: open http://{_url_host(args.host)}:{server.effective_port}/ "
              "(Ctrl-C stops)", flush=True)
        # One image's matrix products are small: BLAS threads only add wake-ups, and while
        # they spin after each product they hold the core that the next request's preparation
        # needs (a CNN's answer 3-4x slower with them; docs/serve.md).
        with threadpool_limits(limits=1, user_api="blas"):
            server.run()  # returns on Ctrl-C: waitress takes the KeyboardInterrupt itself
    except KeyboardInterrupt:
        pass  # Ctrl-C before the loop began: the same clean stop
    finally:
        server.close()
    print("stopped", flush=True)
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    """The host to put in the URL to open: this machine's loopback for a wildcard address."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
