"""Build the OpenAPI document of the prediction API from the pydantic schemas.

``python -m bh_pricing.serving.openapi`` rewrites ``openapi.json`` beside this file; a test fails
when the file is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bh_pricing.serving.schemas import MAX_BATCH, ErrorBody, Listing

OPENAPI_FILE = Path(__file__).with_name("openapi.json")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json({"$ref": "#/components/schemas/Error"})}


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document (deterministic, so the committed file can be compared)."""
    listing = Listing.model_json_schema(ref_template="#/components/schemas/{model}")
    errors = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = {**listing.pop("$defs", {}), **errors.pop("$defs", {})}
    listing_ref = {"$ref": "#/components/schemas/Listing"}
    price = {"type": "number", "description": "predicted price in BRL"}
    common = {
        "currency": {"const": "BRL"},
        "model_version": {"type": "string"},
        "request_id": {"type": "string"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    }
    predict_response = {
        "oneOf": [
            {"type": "object", "required": ["price"], "properties": {"price": price, **common}},
            {
                "type": "object",
                "required": ["prices"],
                "properties": {
                    "prices": {"type": "array", "items": price},
                    "count": {"type": "integer"},
                    **common,
                },
            },
        ]
    }
    get = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bh-pricing",
            "version": "1",
            "description": "Price a Belo Horizonte listing in BRL with the champion model. "
            "Fields accept snake_case or the Kaggle names (square-foot, garage-places, adm-fees); "
            "numbers may be numeric strings. Unknown neighborhoods and missing coordinates are "
            "priced (with a warning).",
        },
        "paths": {
            "/predict": {
                "post": {
                    "summary": f"Price one listing, or a list of at most {MAX_BATCH}",
                    "requestBody": {
                        "required": True,
                        "content": _json(
                            {
                                "oneOf": [
                                    listing_ref,
                                    {
                                        "type": "array",
                                        "items": listing_ref,
                                        "minItems": 1,
                                        "maxItems": MAX_BATCH,
                                    },
                                ]
                            }
                        ),
                    },
                    "responses": {
                        "200": {"description": "price(s)", "content": _json(predict_response)},
                        "400": _error("malformed JSON or body"),
                        "413": _error("body or batch too large"),
                        "422": _error("invalid listing: each problem names its field"),
                        "503": _error("no model loaded (retried on later requests)"),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Model status and prediction-log counters",
                    "responses": {
                        "200": {"description": "model loaded", "content": _json(get)},
                        "503": {"description": "no model loaded", "content": _json(get)},
                    },
                }
            },
            "/model": {
                "get": {
                    "summary": "Manifest of the served bundle (version, run id, test metrics)",
                    "responses": {
                        "200": {"description": "manifest summary", "content": _json(get)},
                        "503": _error("no model loaded"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI", "content": _json(get)}},
                }
            },
        },
        "components": {
            "schemas": {"Listing": listing, "Error": errors, **defs},
            "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
        },
        "security": [{"api_key": []}],
    }


def render() -> str:
    """The document as the text stored in ``openapi.json``."""
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPENAPI_FILE.write_text(render())
    print(f"wrote {OPENAPI_FILE}")
