"""The version of the batchd Python package: the one place it is set (pyproject.toml reads it)."""

__version__ = "0.2.0"
