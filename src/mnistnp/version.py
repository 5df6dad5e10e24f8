"""The version of mnistnp, in one place the package and the files it writes read."""

__version__ = "0.1.0"
