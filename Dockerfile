# Demeu bot image: one process per replica; state lives in PostgreSQL and Redis.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY storage storage
COPY locales locales
RUN pip install --no-cache-dir . && useradd --system --home /app demeu && mkdir -p /app/data && chown demeu /app/data
USER demeu
EXPOSE 8080
CMD ["python", "-m", "bot"]
