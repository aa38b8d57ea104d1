"""Perles' engine: fetch, extract, sanitise and store curated articles; no web framework here."""

from importlib.metadata import version

__version__ = version("perles")  # pyproject.toml's: the app's and the API document's version
