"""Serve a few front-end files from node_modules (npm, package-lock.json) as static
files, without exposing the whole of node_modules to collectstatic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# Served path → file under node_modules.
VENDOR_FILES = {
    "vendor/ol/ol.js": "ol/dist/ol.js",
    "vendor/ol/ol.js.map": "ol/dist/ol.js.map",
    "vendor/ol/ol.css": "ol/ol.css",
    # Maps (maps/render.py): Leaflet and the plugins folium would load from CDNs.
    "vendor/leaflet/leaflet.js": "leaflet/dist/leaflet.js",
    "vendor/leaflet/leaflet.js.map": "leaflet/dist/leaflet.js.map",
    "vendor/leaflet/leaflet.css": "leaflet/dist/leaflet.css",
    "vendor/leaflet/images/layers.png": "leaflet/dist/images/layers.png",
    "vendor/leaflet/images/layers-2x.png": "leaflet/dist/images/layers-2x.png",
    "vendor/leaflet/images/marker-icon.png": "leaflet/dist/images/marker-icon.png",
    "vendor/leaflet/images/marker-icon-2x.png": (
        "leaflet/dist/images/marker-icon-2x.png"
    ),
    "vendor/leaflet/images/marker-shadow.png": "leaflet/dist/images/marker-shadow.png",
    "vendor/leaflet.markercluster/leaflet.markercluster.js": (
        "leaflet.markercluster/dist/leaflet.markercluster.js"
    ),
    "vendor/leaflet.markercluster/leaflet.markercluster.js.map": (
        "leaflet.markercluster/dist/leaflet.markercluster.js.map"
    ),
    "vendor/leaflet.markercluster/MarkerCluster.css": (
        "leaflet.markercluster/dist/MarkerCluster.css"
    ),
    "vendor/leaflet.markercluster/MarkerCluster.Default.css": (
        "leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
    "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js": (
        "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"
    ),
    "vendor/leaflet.heat/leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
}


class VendorFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root = Path(settings.BASE_DIR) / "node_modules"

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        source = VENDOR_FILES.get(path)
        if source is None or not (self.root / source).is_file():
            return [] if find_all or kwargs.get("all") else None
        found = str(self.root / source)
        return [found] if find_all or kwargs.get("all") else found

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for served, source in VENDOR_FILES.items():
            path = self.root / source
            if not path.is_file():
                continue
            storage = FileSystemStorage(location=str(path.parent))
            storage.prefix = str(Path(served).parent)  # type: ignore[attr-defined]
            yield path.name, storage
