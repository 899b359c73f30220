# The overage bot as a container: non-root, health-checked, `serve` by default.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY bot/ bot/
COPY handlers/ handlers/
COPY manifest.yml .

RUN useradd --create-home --uid 10001 overage \
    && mkdir -p /data && chown overage /data
USER overage
# SQLite lives on a volume unless DATABASE_URL points at PostgreSQL
ENV DATABASE_URL=sqlite:////data/overage-bot.db
VOLUME ["/data"]

EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/healthz', timeout=4)"

# On SIGTERM the bot stops taking work and finishes what is in flight before it exits.
# Give it at least 30 s before the kill: `docker stop --time 30`, `docker run --stop-timeout 30`,
# `stop_grace_period: 30s` in Compose, `terminationGracePeriodSeconds: 30` in Kubernetes
# (Docker's own default is 10 s).
STOPSIGNAL SIGTERM
# exec form: the signal reaches the bot itself, not a shell
CMD ["python", "-m", "bot", "serve"]
