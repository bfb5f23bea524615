FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 PREFECT_LOGGING_LEVEL=WARNING
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flows flows
COPY connectors connectors
COPY models models
COPY transforms transforms
COPY config config
COPY seeds seeds
RUN pip install --no-cache-dir uv && uv pip install --system --compile-bytecode -e .
CMD ["rare-news", "serve"]
