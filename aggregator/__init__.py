"""Perles' engine: fetch, extract, sanitise and store curated articles; no web framework here."""
