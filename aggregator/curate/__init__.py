"""What curators make and move, each function checked against the actor's rights.

access     who may do what: the actor (a curator, or the command line), roles, given subtrees
boards     collections: create, rename, describe, set visibility, nest, move, reorder
pearls     pearls: add a URL (duplicates found, never a note overwritten), note, tags, move...
positions  places among siblings kept 0, 1, 2... by every change
tags       tags cleaned, bounded, case-insensitive
trash      delete to the trash, restore whole, purge
catalog    collections/*.toml -> database (additive: curators' work is never overwritten)
"""
