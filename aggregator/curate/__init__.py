"""What curators make and move.

catalog   collections/*.toml <-> database: the curated collections kept as data files
"""
