"""Convert a fitted candidate (``TransformedTargetRegressor`` around a pipeline) to ONNX.

skl2onnx converts the inner pipeline; the log-price target transform is recorded in the manifest
and applied by the runtime. ``OneHotEncoder`` gets its own converter because skl2onnx rejects
infrequent categories and raises on unknown ones under ``handle_unknown="infrequent_if_exist"``.
"""

from __future__ import annotations

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common._container import ModelComponentContainer
from skl2onnx.common._topology import Operator, Scope
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.proto import onnx_proto
from sklearn.compose import TransformedTargetRegressor
from sklearn.preprocessing import OneHotEncoder

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.serving.manifest import InputFeature

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
NULLABLE = frozenset({"latitude", "longitude"})


class ConversionError(ValueError):
    """The estimator cannot be served as ONNX; the message says which part and why."""


def input_features() -> list[InputFeature]:
    """The graph inputs: one ``[N, 1]`` tensor per contract column."""
    return [
        InputFeature(
            name=name,
            dtype="string" if name == "neighborhood" else "float32",
            nullable=name in NULLABLE,
        )
        for name in FEATURE_COLUMNS
    ]


def target_transform(estimator: object) -> str:
    """``exp`` for the log-price wrapper, ``identity`` for a bare pipeline."""
    if not isinstance(estimator, TransformedTargetRegressor):
        return "identity"
    if estimator.func is not np.log or estimator.inverse_func is not np.exp:
        raise ConversionError("only TransformedTargetRegressor(func=np.log, inverse_func=np.exp)")
    return "exp"


def to_onnx(estimator: object) -> bytes:
    """Serialized ONNX model of the estimator's inner pipeline (before the target transform)."""
    inner = estimator.regressor_ if isinstance(estimator, TransformedTargetRegressor) else estimator
    initial_types = [
        (f.name, StringTensorType([None, 1]) if f.dtype == "string" else FloatTensorType([None, 1]))
        for f in input_features()
    ]
    try:
        model = convert_sklearn(
            inner,
            initial_types=initial_types,
            target_opset=TARGET_OPSET,
            custom_conversion_functions={OneHotEncoder: _convert_one_hot},
            custom_shape_calculators={OneHotEncoder: _one_hot_shape},
        )
    except (NotImplementedError, RuntimeError, TypeError) as exc:
        raise ConversionError(f"cannot convert {type(inner).__name__} to ONNX: {exc}") from exc
    return model.SerializeToString()


def _one_hot_columns(encoder: OneHotEncoder) -> tuple[dict[str, int], int, int]:
    """Map every known category to its output column; also the column for unknowns and the width.

    Unknown values go to the infrequent column when there is one (``infrequent_if_exist``), and
    otherwise to an index outside ``[0, width)``, which ONNX ``OneHot`` encodes as all zeros.
    """
    if len(encoder.categories_) != 1:
        raise ConversionError("OneHotEncoder: only single-column encoders are supported")
    if encoder.drop_idx_ is not None:
        raise ConversionError("OneHotEncoder: drop is not supported")
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise ConversionError(f"OneHotEncoder: handle_unknown={encoder.handle_unknown!r}")
    output = list(encoder._compute_transformed_categories(0))
    width = len(output)
    infrequent = output.index("infrequent_sklearn") if "infrequent_sklearn" in output else None
    positions = {
        str(c): i for i, c in enumerate(output) if c != "infrequent_sklearn" or i != infrequent
    }
    columns = {str(c): positions.get(str(c), infrequent) for c in encoder.categories_[0]}
    unknown = infrequent if infrequent is not None else width
    return {k: v for k, v in columns.items() if v is not None}, unknown, width


def _one_hot_shape(operator: Operator) -> None:
    _, _, width = _one_hot_columns(operator.raw_operator)
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def _convert_one_hot(scope: Scope, operator: Operator, container: ModelComponentContainer) -> None:
    """String column -> column index (LabelEncoder) -> one-hot floats ``[N, width]``."""
    columns, unknown, width = _one_hot_columns(operator.raw_operator)
    if not isinstance(operator.inputs[0].type, StringTensorType):
        raise ConversionError("OneHotEncoder: only string inputs are supported")
    index = scope.get_unique_variable_name("category_index")
    container.add_node(
        "LabelEncoder",
        operator.inputs[0].full_name,
        index,
        op_domain="ai.onnx.ml",
        op_version=2,
        keys_strings=list(columns),
        values_int64s=list(columns.values()),
        default_int64=unknown,
        name=scope.get_unique_operator_name("LabelEncoder"),
    )
    depth = scope.get_unique_variable_name("depth")
    values = scope.get_unique_variable_name("on_off")
    shape = scope.get_unique_variable_name("shape")
    container.add_initializer(depth, onnx_proto.TensorProto.INT64, [1], [width])
    container.add_initializer(values, onnx_proto.TensorProto.FLOAT, [2], [0.0, 1.0])
    container.add_initializer(shape, onnx_proto.TensorProto.INT64, [2], [-1, width])
    encoded = scope.get_unique_variable_name("one_hot")
    container.add_node(
        "OneHot",
        [index, depth, values],
        encoded,
        axis=-1,
        name=scope.get_unique_operator_name("OneHot"),
    )
    container.add_node(
        "Reshape",
        [encoded, shape],
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Reshape"),
    )
