# The service image: the package installed in /app with its config and seed corpus. docker-compose.yml runs it
# as the Prefect worker, as the service that registers the deployments, and (profile dask) as Dask processes.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 PREFECT_LOGGING_LEVEL=WARNING \
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90 \
    RARE_NEWS_CONFIG_DIR=/app/config
WORKDIR /app
COPY pyproject.toml README.md prefect.yaml ./
COPY flows flows
COPY connectors connectors
COPY models models
COPY transforms transforms
COPY web web
COPY config config
COPY seeds seeds
# Editable: settings find config/ and seeds/ beside the code, and prefect.yaml's entrypoints are files in /app.
RUN pip install --no-cache-dir "uv>=0.4" && uv pip install --system --compile-bytecode -e . \
    && useradd --create-home --uid 10001 rare && chown -R rare /app
USER rare
CMD ["rare-news", "serve"]
