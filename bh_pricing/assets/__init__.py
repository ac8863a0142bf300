"""Dagster assets, one sub-package per group; each exposes ``defs``."""
