# Demeu bot image: one process per replica; state lives in PostgreSQL and Redis.

# The wheel, built from the sources alone (tests/test_wheel.py builds and runs it the same way).
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY storage storage
COPY locales locales
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# The locked runtime dependencies (hashes checked), then the wheel on top: the image holds no source
# tree, so the bot runs from site-packages, as installed.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=wheel /dist /dist
RUN pip install --no-cache-dir --no-deps /dist/demeu-*.whl && rm -r /dist
RUN useradd --system --create-home --home-dir /home/demeu demeu && mkdir /app && chown demeu /app
USER demeu
# The working folder holds only data/ (the SQLite default and local keys) and an optional config.toml.
WORKDIR /app
EXPOSE 8080
# Webhook mode answers /healthz while the database is reachable. Polling mode serves no HTTP: the
# process itself is the whole signal there, and the container stops with it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", "\
from urllib.request import urlopen; from bot.config import load_settings; telegram = load_settings().telegram; \
telegram.mode != 'webhook' or urlopen(f'http://127.0.0.1:{telegram.webhook_port}/healthz', timeout=4)"]
CMD ["python", "-m", "bot"]
