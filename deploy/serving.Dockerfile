# syntax=docker/dockerfile:1
# The prediction API as a plain HTTP container (uvicorn on port 8080): the same FastAPI app as
# the Lambda, for ECS/Fargate, App Runner, Kubernetes or any container platform. Only the serving
# runtime is installed (numpy, onnxruntime, pydantic, FastAPI, uvicorn, boto3 for s3://), no
# MLflow or pandas. Build from the repository root:
#   docker build -f deploy/serving.Dockerfile -t bh-pricing-serving:latest .
#   docker run -p 8080:8080 -e BH_PRICING_MODEL_URI=s3://bucket/artifacts/bundles \
#     -e BH_PRICING_PREDICTION_LOG_URI=s3://bucket/prediction-log bh-pricing-serving:latest
# SIGTERM (docker stop, ECS task stop) writes the buffered prediction log before exiting.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY deploy/lambda-requirements.txt deploy/serving-requirements.txt /tmp/requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements/serving-requirements.txt

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BH_PRICING_MODEL_RETRY_SECONDS=5 \
    BH_PRICING_MODEL_REFRESH_SECONDS=30
RUN groupadd --system --gid 10003 serving \
    && useradd --system --uid 10003 --gid serving --home-dir /opt/app --shell /usr/sbin/nologin serving
COPY --from=build /opt/venv /opt/venv
COPY bh_pricing/__init__.py bh_pricing/constants.py /opt/app/bh_pricing/
COPY bh_pricing/io/__init__.py bh_pricing/io/storage.py /opt/app/bh_pricing/io/
COPY bh_pricing/core/__init__.py bh_pricing/core/intervals.py /opt/app/bh_pricing/core/
COPY bh_pricing/contract/ /opt/app/bh_pricing/contract/
COPY bh_pricing/serving/ /opt/app/bh_pricing/serving/
WORKDIR /opt/app
USER 10003:10003
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
CMD ["uvicorn", "--factory", "bh_pricing.serving.api:create_app", "--host", "0.0.0.0", "--port", "8080", "--timeout-graceful-shutdown", "10"]
