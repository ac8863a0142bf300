# Container image for the prediction Lambda, on the AWS Lambda Python base image.
# Build from the repository root:
#   docker build -f deploy/lambda.Dockerfile -t bh-pricing-serving .
# Lambda runs the function as an unprivileged user whatever the image's USER is.

FROM public.ecr.aws/lambda/python:3.12 AS deps
COPY deploy/lambda-requirements.txt /tmp/lambda-requirements.txt
RUN pip install --no-cache-dir --target /opt/deps -r /tmp/lambda-requirements.txt

FROM public.ecr.aws/lambda/python:3.12
COPY --from=deps /opt/deps ${LAMBDA_TASK_ROOT}
COPY bh_pricing/__init__.py bh_pricing/constants.py ${LAMBDA_TASK_ROOT}/bh_pricing/
COPY bh_pricing/io/__init__.py bh_pricing/io/storage.py ${LAMBDA_TASK_ROOT}/bh_pricing/io/
COPY bh_pricing/core/__init__.py bh_pricing/core/intervals.py ${LAMBDA_TASK_ROOT}/bh_pricing/core/
COPY bh_pricing/contract/ ${LAMBDA_TASK_ROOT}/bh_pricing/contract/
COPY bh_pricing/serving/ ${LAMBDA_TASK_ROOT}/bh_pricing/serving/
ENV BH_PRICING_MODEL_RETRY_SECONDS=5 \
    BH_PRICING_MODEL_REFRESH_SECONDS=30
CMD ["bh_pricing.serving.handler"]
