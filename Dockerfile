# cintel-relay: build wheels in one stage, run them in a slim image without build tools.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY cintel_relay ./cintel_relay
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cintel-metrics
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels cintel-relay \
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
CMD ["cintel-relay", "serve"]
