"""OGC API – Features, Part 1 (core, geojson, html, oas30) over the public inventory.

Mounted at ``/ogc/``. Three collections: the public buildings (exactly the public
scope of the buildings API) and the départements and communes with their counts
of vacant buildings. Feature pages are written by PostGIS (buildings/geojson.py);
the views only validate parameters, negotiate the format and add links.
"""
