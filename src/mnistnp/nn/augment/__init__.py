"""Data augmentation as training-only layers on the raw images: random shifts (``RandomShift``),
affine transforms (``RandomAffine``) and strokes grown or thinned (``RandomStroke``)."""

from .affine import RandomAffine, affine_matrices, affine_resample
from .common import Augmentation, finite_number, image_shape
from .shift import MAX_SHIFT, RandomShift
from .stroke import MAX_STROKE, RandomStroke, stroke_resample

__all__ = ["MAX_SHIFT", "MAX_STROKE", "Augmentation", "RandomAffine", "RandomShift",
           "RandomStroke", "affine_matrices", "affine_resample", "finite_number", "image_shape",
           "stroke_resample"]
