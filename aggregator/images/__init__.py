"""Images from our own store: fetched at ingest, checked by their bytes, resized, stored in
the database and served from our origin (web/images.py), so that visitors' browsers never
contact the sources.

decode      bytes -> a checked raster image (formats allowed, SVG refused, size caps)
thumbnails  the copies we serve (card thumbnail, reader width, site icon), WebP, named by hash
inline      the images of an article's copy: ours in place, the others dropped, sanitised last
ingest      one article's images, fetched within a time budget and stored with the article

Nothing is imported here: aggregator/store/resanitize.py imports `inline` alone.
"""
