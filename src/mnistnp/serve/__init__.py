"""``mnistnp serve``'s parts: a drawing page and a small prediction API over saved models."""

from .app import MAX_BODY, App
from .payload import BadRequest, digit_from_body, pixels_from_json
from .served import ServedModel, activations, run_layers, shown_layers
from .server import make_server, running

__all__ = ["MAX_BODY", "App", "BadRequest", "ServedModel", "activations", "digit_from_body",
           "make_server", "pixels_from_json", "run_layers", "running", "shown_layers"]
