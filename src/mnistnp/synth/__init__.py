"""Synthetic images of digits as users' files come, made from MNIST digits, for measuring an
image preparation such as ``predict``'s: ``renders`` (34 conditions: clean, drawn, 28x28,
degraded, photo, and the plain MNIST preparation that ``predict``'s is measured against) and
``photos`` (photo-like JPEGs). Not imported by the rest of mnistnp."""
