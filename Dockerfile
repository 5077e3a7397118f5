# syntax=docker/dockerfile:1
# The production image: Django under granian (config/server.py), static files served by whitenoise.
# Front-end assets come from the npm registry through package-lock.json, never a CDN.

FROM node:22-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# GDAL (with GEOS and PROJ) for GeoDjango; gettext to compile the translations.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gdal-bin libgdal32 gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY --from=assets /build/node_modules ./node_modules
COPY . .
RUN for po in locale/*/LC_MESSAGES/*.po; do msgfmt --check -o "${po%.po}.mo" "$po"; done
# Settings refuse to load without a database URL and a secret key: throwaway values,
# used only to import the settings while collecting static files (no connection made).
RUN INTERCALAIRE_ENV_FILE=/dev/null \
    DATABASE_URL=postgres://build@localhost/build \
    DJANGO_SECRET_KEY=build-only-not-a-secret-0123456789-abcdefghijklmnopqrstuvwxyz \
    DJANGO_DEBUG=false \
    python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin intercalaire \
    && mkdir -p var/media var/imports var/erasures var/audit \
    && chown intercalaire var/media var/imports var/erasures var/audit
USER intercalaire
EXPOSE 8000
# Same request as the compose healthcheck: plain HTTP from inside, an allowed host.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as r; host = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].lstrip('.'); r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=5)"
CMD ["python", "-m", "config.server", "--host", "0.0.0.0", "--port", "8000"]
