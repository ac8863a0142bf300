"""Serve the champion model without MLflow: an ONNX bundle behind one ASGI app (FastAPI).

``from bh_pricing.serving import handler`` is the AWS Lambda entry point (Mangum, see
``lambda_handler``); ``uvicorn --factory bh_pricing.serving.api:create_app`` serves the same app
anywhere else. The request path (``api``, ``lambda_handler``, ``service``, ``runtime``,
``schemas``, ``responses``, ``predlog`` and ``bh_pricing.io.storage``) imports only numpy,
onnxruntime, pydantic and FastAPI/Mangum (boto3 lazily for s3://). The export side (``bundle``,
``onnx_convert``, ``log_reader``) needs scikit-learn, skl2onnx and pandas and is never imported
by the handler; importing this package imports neither side.
"""

from __future__ import annotations

from typing import Any

__all__ = ["handler"]


def __getattr__(name: str) -> Any:
    """``handler`` is imported on first use, so the export side does not load FastAPI."""
    if name == "handler":
        from bh_pricing.serving.lambda_handler import handler

        return handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
