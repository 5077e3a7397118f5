"""The PostGIS database backend, with a health check that costs no round trip.

``ENGINE = "config.database"`` (config/env.py); see ``base.DatabaseWrapper``.
"""
