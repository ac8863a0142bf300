"""Serve the champion model without MLflow: an ONNX bundle, a Lambda handler and a local server.

The request path (``handler``, ``api``, ``runtime``, ``schemas``, ``predlog`` and
``bh_pricing.io.storage``) imports only numpy, onnxruntime and pydantic (boto3 lazily for s3://).
The export side (``bundle``, ``onnx_convert``, ``log_reader``) needs scikit-learn, skl2onnx and
pandas and is never imported by the handler.
"""
