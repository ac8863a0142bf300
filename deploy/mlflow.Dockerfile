# syntax=docker/dockerfile:1
# MLflow tracking server with the PostgreSQL driver and boto3 for S3 artifacts (the upstream image
# ships neither). Build from the repository root:
#   docker build -f deploy/mlflow.Dockerfile -t bh-pricing-mlflow:latest .
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# Keep the server at least as new as the client in pyproject.toml (mlflow>=3.1).
ARG MLFLOW_VERSION=3.17.2
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install "mlflow==${MLFLOW_VERSION}" "psycopg2-binary>=2.9" "boto3>=1.34"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10002 mlflow \
    && useradd --system --uid 10002 --gid mlflow --home-dir /home/mlflow --create-home \
       --shell /usr/sbin/nologin mlflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/mlflow
USER 10002:10002
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
