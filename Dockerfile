# cintel-relay: build wheels in one stage, run them in a slim image without build tools. The dependencies are
# the locked ones (requirements.txt: exact versions, checked against their hashes), as on Heroku and in CI.
FROM python:3.11-slim AS build
WORKDIR /src
# A C compiler for the locked packages published as source only (gunicorn-h1c); the run stage has none.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY requirements.txt pyproject.toml setup.cfg README.md ./
COPY cintel_relay ./cintel_relay
RUN pip wheel --no-cache-dir --wheel-dir /wheels --require-hashes -r requirements.txt \
    && pip wheel --no-cache-dir --wheel-dir /wheels --no-deps .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cintel-metrics
COPY --from=build /wheels /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes -r /tmp/requirements.txt \
    && pip install --no-cache-dir --no-index --find-links=/wheels --no-deps cintel-relay \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 relay \
    && install -d -o relay -g relay /tmp/cintel-metrics
USER relay
WORKDIR /home/relay
EXPOSE 8000
# /healthz: the process serves; the load balancer's own check (/readyz) adds Redis.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=2)"]
# The same command as the Procfile: it validates the settings, then runs gunicorn.
CMD ["python", "-m", "cintel_relay", "serve"]
