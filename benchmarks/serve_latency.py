"""Warm latency of ``mnistnp serve``: one digit at a time, from a client on the same machine.

    python benchmarks/serve_latency.py --model mlp.npz [--model cnn.npz] [--requests 300]

Starts ``mnistnp serve --port 0`` in its own process for each model, sends 20 requests to warm
it, then ``--requests`` one after another on one kept-alive connection (as a browser keeps it),
each waiting for its answer: a 280x280 PNG of an MNIST test digit drawn dark on white (what the
page sends), and the same digit as a 28x28 JSON array.
Prints the median and 90th percentile of the round trip the client sees and of the ``ms`` the
server reports (preparation and the forward pass), per model and body, and the load average
(another process's work shows in these times).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from mnistnp import datasets

WARM_UP = 20


def bodies() -> dict[str, tuple[bytes, str]]:
    """The two request bodies: the first MNIST test digit as the page draws it, and as JSON."""
    (_, _), (x_test, _) = datasets.load("mnist")
    digit = x_test[0]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return {"png 280x280": (buffer.getvalue(), "image/png"),
            "json 28x28": (json.dumps({"image": digit.tolist()}).encode(), "application/json")}


def measure(url: str, body: bytes, kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip and server-reported milliseconds of ``n`` requests, one after another, on
    one kept-alive connection (as the page's browser sends them)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    connection = http.client.HTTPConnection(host or "127.0.0.1", port, timeout=60)
    trips, server = [], []
    for i in range(WARM_UP + n):
        start = time.perf_counter()
        connection.request("POST", "/api/predict", body, {"Content-Type": kind})
        response = connection.getresponse()
        answer = json.loads(response.read())
        took = (time.perf_counter() - start) * 1000
        assert response.status == 200, answer
        if i >= WARM_UP:
            trips.append(took)
            server.append(answer["ms"])
    connection.close()
    return np.array(trips), np.array(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{args.requests} requests after {WARM_UP} to warm up, one at a time; milliseconds")
    print(f"{'model':<16} {'body':<12} {'round trip median':>18} {'p90':>7} "
          f"{'server median':>14} {'p90':>7}")
    for path in args.model:
        child = subprocess.Popen([sys.executable, "-m", "mnistnp.cli", "serve", "--model",
                                  str(path), "--port", "0"], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            url = child.stdout.readline().split("open ")[1].split()[0]
            for name, (body, kind) in bodies().items():
                trips, server = measure(url, body, kind, args.requests)
                print(f"{path.name:<16} {name:<12} {np.median(trips):>18.2f} "
                      f"{np.percentile(trips, 90):>7.2f} {np.median(server):>14.2f} "
                      f"{np.percentile(server, 90):>7.2f}", flush=True)
        finally:
            child.terminate()
            child.wait()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
