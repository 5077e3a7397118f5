"""Settings of the stock djangorestframework-gis reference server (bench only).

The project's settings, with a URL configuration holding nothing but the reference
list view of bench/drfgis_urls.py: never part of the application.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.drfgis_urls"
