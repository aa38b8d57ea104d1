"""The web layer: board pages, reader pages and the JSON API, over aggregator.store only."""
