"""I/O at the edges: raw sources, object storage, the MLflow registry."""
