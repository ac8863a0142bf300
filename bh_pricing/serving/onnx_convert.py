"""Convert a fitted candidate (``TransformedTargetRegressor`` around a pipeline) to ONNX.

skl2onnx converts the inner pipeline; the log-price target transform is recorded in the manifest
and applied by the runtime. Three steps get converters of their own:

- ``OneHotEncoder``: skl2onnx rejects infrequent categories and fails on unknown ones under
  ``handle_unknown="infrequent_if_exist"``.
- ``HistGradientBoostingRegressor`` and ``TargetEncoder``: skl2onnx stores thresholds and
  encodings as float32. Coordinates with 7 decimals then fall on the wrong side of a split (errors
  of several % on real listings), so tree models take float64 inputs and keep float64 thresholds
  and encodings (``*_as_tensor`` attributes of ai.onnx.ml opset 3/4).

``SpatialPriceLevel`` (a column-transformer branch of the tree pipelines) becomes a lookup of
its lattices: per bandwidth, the four lattice nodes around the query (``Gather`` on the block
table, then on the stored node sums) and their bilinear mean, so the graph's size and a query's
cost do not depend on the number of training rows.

A ``ComparablesAdjusted`` regressor is exported as its base pipeline's graph followed by the
comparables' kernel correction in float64 ONNX operators: the query's 2 x 2 nearest cells are
looked up (``LabelEncoder`` from cell key to cell), and the kernel is evaluated on the capped
entries of those cells only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common._container import ModelComponentContainer
from skl2onnx.common._topology import Operator, Scope
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
from skl2onnx.proto import onnx_proto
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, TargetEncoder

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.comparables import (
    COMPARABLE_COLUMNS,
    COUNT,
    KEY_STRIDE,
    MAX_PER_CELL,
    RESIDUAL_SUM,
    ComparablesAdjusted,
)
from bh_pricing.core.spatial import (
    BLOCK,
    CORNERS,
    METRES_PER_DEGREE,
    METRES_PER_DEGREE_EAST,
    PriceLattice,
    SpatialPriceLevel,
)
from bh_pricing.serving.manifest import InputFeature

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
# LabelEncoder with float64 values needs ai.onnx.ml 4; skl2onnx itself stops at 3.
ML_OPSET = 4
NULLABLE = frozenset({"latitude", "longitude"})


class ConversionError(ValueError):
    """The estimator cannot be served as ONNX; the message says which part and why."""


def inner_pipeline(estimator: object) -> object:
    """The fitted pipeline inside the log-price wrapper and any comparables adjustment."""
    inner = estimator.regressor_ if isinstance(estimator, TransformedTargetRegressor) else estimator
    return inner.base_ if isinstance(inner, ComparablesAdjusted) else inner


def numeric_dtype(estimator: object) -> str:
    """``float64`` for tree pipelines (exact splits), ``float32`` for the linear ones."""
    inner = inner_pipeline(estimator)
    steps = inner.steps if isinstance(inner, Pipeline) else [(None, inner)]
    trees = any(isinstance(step, HistGradientBoostingRegressor) for _, step in steps)
    return "float64" if trees else "float32"


def input_features(dtype: str = "float32") -> list[InputFeature]:
    """The graph inputs: one ``[N, 1]`` tensor per contract column."""
    return [
        InputFeature(
            name=name,
            dtype="string" if name == "neighborhood" else dtype,
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
    """Serialized ONNX model of the estimator's inner regressor (before the target transform)."""
    inner = inner_pipeline(estimator)
    types = {"string": StringTensorType, "float32": FloatTensorType, "float64": DoubleTensorType}
    initial_types = [
        (f.name, types[f.dtype]([None, 1])) for f in input_features(numeric_dtype(estimator))
    ]
    try:
        model = convert_sklearn(
            inner,
            initial_types=initial_types,
            target_opset=TARGET_OPSET,
            custom_conversion_functions={
                OneHotEncoder: _convert_one_hot,
                TargetEncoder: _convert_target_encoder,
                HistGradientBoostingRegressor: _convert_hist_gradient_boosting,
                SpatialPriceLevel: _convert_spatial_level,
            },
            custom_shape_calculators={
                OneHotEncoder: _one_hot_shape,
                TargetEncoder: _double_column_shape,
                HistGradientBoostingRegressor: _double_column_shape,
                SpatialPriceLevel: _spatial_level_shape,
            },
        )
    except (NotImplementedError, RuntimeError, TypeError) as exc:
        raise ConversionError(f"cannot convert {type(inner).__name__} to ONNX: {exc}") from exc
    for opset in model.opset_import:
        if opset.domain == "ai.onnx.ml":
            opset.version = max(opset.version, ML_OPSET)
    adjusted = getattr(estimator, "regressor_", estimator)
    if isinstance(adjusted, ComparablesAdjusted):
        _append_comparables(model, adjusted)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _append_comparables(model: onnx.ModelProto, adjusted: ComparablesAdjusted) -> None:
    """Add the kernel correction of ``adjusted`` to the graph's single ``[N, 1]`` output.

    Mirrors ``ComparablesAdjusted.correction``: the query's four nearest cell keys ``[N, 4]``,
    their cells (``LabelEncoder``; unknown keys go to the empty cell), the cells' entries
    ``[N, 4, MAX_PER_CELL, 8]``, log-kernel, exp, NaN (no coordinates) -> 0, entries beyond a
    cell's count -> 0, and the weighted mean of residuals.
    """
    graph = model.graph
    if len(graph.output) != 1:
        raise ConversionError("ComparablesAdjusted: the base graph must have one output")
    base_output = graph.output[0].name
    nodes: list[onnx.NodeProto] = []
    constants: list[onnx.TensorProto] = []

    def constant(name: str, value: np.ndarray | float, dtype: type = np.float64) -> str:
        constants.append(numpy_helper.from_array(np.asarray(value, dtype), f"cmp_{name}"))
        return f"cmp_{name}"

    def node(op: str, inputs: list[str], name: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [f"cmp_{name}"], name=f"cmp_{name}", **attrs))
        return f"cmp_{name}"

    double, int64 = onnx.TensorProto.DOUBLE, onnx.TensorProto.INT64
    columns = {c: node("Cast", [c], f"{c}_f64", to=double) for c in COMPARABLE_COLUMNS}
    query = {
        "north": node("Mul", [columns["latitude"], constant("north", METRES_PER_DEGREE)], "n"),
        "east": node("Mul", [columns["longitude"], constant("east", METRES_PER_DEGREE_EAST)], "e"),
        "area": node("Log", [columns["square_foot"]], "log_area"),
        "rooms": columns["rooms"],
        "garage": columns["garage_places"],
        "fees": node("Log", [node("Add", [columns["adm_fees"], constant("one", 1.0)], "f1")], "lf"),
    }
    zero, half = constant("zero", 0.0), constant("half", 0.5)
    cell = constant("cell", adjusted.cell_m)

    def low_cell(axis: str) -> str:
        position = node(
            "Where", [node("IsNaN", [query[axis]], f"{axis}_nan"), zero, query[axis]], f"{axis}_0"
        )
        scaled = node("Sub", [node("Div", [position, cell], f"{axis}_cells"), half], f"{axis}_lo")
        return node("Cast", [node("Floor", [scaled], f"{axis}_floor")], f"{axis}_cell", to=int64)

    north_cells = node("Add", [low_cell("north"), constant("dn", [0, 0, 1, 1], np.int64)], "nc")
    east_cells = node("Add", [low_cell("east"), constant("de", [0, 1, 0, 1], np.int64)], "ec")
    stride = constant("stride", KEY_STRIDE, np.int64)
    keys = node("Add", [node("Mul", [north_cells, stride], "nk"), east_cells], "keys")
    known = adjusted.cell_keys_
    slot = node(
        "LabelEncoder",
        [keys],
        "slot",
        domain="ai.onnx.ml",
        keys_int64s=[int(k) for k in known],
        values_int64s=list(range(len(known))),
        default_int64=len(known),
    )
    start = node("Gather", [constant("starts", adjusted.cell_starts_, np.int64), slot], "start")
    count = node("Gather", [constant("counts", adjusted.cell_counts_, np.int64), slot], "count")
    last_axis = constant("last_axis", [2], np.int64)
    rank = constant("rank", np.arange(MAX_PER_CELL), np.int64)
    rows = node("Add", [node("Unsqueeze", [start, last_axis], "start3"), rank], "rows")
    real = node("Less", [rank, node("Unsqueeze", [count, last_axis], "count3")], "real_bool")
    real = node("Cast", [real], "real", to=double)
    entries = node("Gather", [constant("entries", adjusted.entries_), rows], "candidates")

    def entry(column: int) -> str:
        return node(
            "Gather", [entries, constant(f"col{column}", column, np.int64)], f"ent{column}", axis=3
        )

    delta = {
        name: node("Sub", [node("Unsqueeze", [q, last_axis], f"q_{name}"), entry(i)], f"d_{name}")
        for i, (name, q) in enumerate(query.items())
    }

    def square(name: str) -> str:
        return node("Mul", [delta[name], delta[name]], f"sq_{name}")

    def absolute(name: str) -> str:
        return node("Abs", [delta[name]], f"abs_{name}")

    distance = node("Add", [square("north"), square("east")], "distance2")
    terms = [
        node("Mul", [distance, constant("k_distance", -0.5 / adjusted.distance_m**2)], "t_dist"),
        node("Mul", [square("area"), constant("k_area", -0.5 / adjusted.area_scale**2)], "t_area"),
        node("Mul", [absolute("rooms"), constant("k_rooms", -adjusted.rooms_penalty)], "t_rooms"),
        node("Mul", [absolute("garage"), constant("k_garage", -adjusted.garage_penalty)], "t_gar"),
        node("Mul", [absolute("fees"), constant("k_fees", -adjusted.fees_penalty)], "t_fees"),
    ]
    kernel = node("Exp", [node("Sum", terms, "log_weight")], "kernel_raw")
    kernel = node("Where", [node("IsNaN", [kernel], "kernel_nan"), zero, kernel], "kernel_located")
    kernel = node("Mul", [kernel, real], "kernel")
    inner, outer = constant("axis2", [2], np.int64), constant("axis1", [1], np.int64)

    def total(values: str, name: str) -> str:
        per_cell = node("ReduceSum", [values, inner], f"{name}_cell", keepdims=0)
        return node("ReduceSum", [per_cell, outer], name, keepdims=1)

    mass = total(node("Mul", [kernel, entry(COUNT)], "kc"), "mass")
    weighted = total(node("Mul", [kernel, entry(RESIDUAL_SUM)], "kr"), "weighted")
    prior = constant("prior", adjusted.prior_weight)
    correction = node("Div", [weighted, node("Add", [mass, prior], "den")], "correction")
    output = node("Add", [base_output, correction], "adjusted")
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    graph.output[0].name = output


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


def _double_column_shape(operator: Operator) -> None:
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), 1])


def _convert_target_encoder(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """String column -> float64 encoding (the full-data encoding; unknowns get the target mean)."""
    encoder = operator.raw_operator
    if encoder.target_type_ != "continuous" or len(encoder.categories_) != 1:
        raise ConversionError("TargetEncoder: only one continuous-target column is supported")
    if not isinstance(operator.inputs[0].type, StringTensorType):
        raise ConversionError("TargetEncoder: only string inputs are supported")
    container.add_node(
        "LabelEncoder",
        operator.inputs[0].full_name,
        operator.outputs[0].full_name,
        op_domain="ai.onnx.ml",
        op_version=2,  # declared as 2 for skl2onnx; the model imports ai.onnx.ml 4 (see to_onnx)
        keys_strings=[str(c) for c in encoder.categories_[0]],
        values_tensor=numpy_helper.from_array(np.asarray(encoder.encodings_[0], np.float64)),
        default_tensor=numpy_helper.from_array(np.array([encoder.target_mean_], np.float64)),
        name=scope.get_unique_operator_name("TargetEncoder"),
    )


def _convert_hist_gradient_boosting(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """Trees with float64 thresholds, leaf values and baseline; float64 output."""
    model = operator.raw_operator
    if model.n_trees_per_iteration_ != 1:
        raise ConversionError("HistGradientBoostingRegressor: one tree per iteration expected")
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        raise ConversionError("HistGradientBoostingRegressor: float64 inputs expected")
    nodes: dict[str, list] = {
        k: []
        for k in (
            "treeids",
            "nodeids",
            "featureids",
            "modes",
            "values",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        )
    }
    targets: dict[str, list] = {"treeids": [], "nodeids": [], "weights": []}
    for tree_id, (predictor,) in enumerate(model._predictors):
        for node_id, node in enumerate(predictor.nodes):
            leaf = bool(node["is_leaf"])
            if not leaf and node["is_categorical"]:
                raise ConversionError("HistGradientBoostingRegressor: categorical splits")
            nodes["treeids"].append(tree_id)
            nodes["nodeids"].append(node_id)
            nodes["featureids"].append(0 if leaf else int(node["feature_idx"]))
            nodes["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            nodes["values"].append(0.0 if leaf else float(node["num_threshold"]))
            nodes["truenodeids"].append(0 if leaf else int(node["left"]))
            nodes["falsenodeids"].append(0 if leaf else int(node["right"]))
            nodes["missing_value_tracks_true"].append(int(not leaf and node["missing_go_to_left"]))
            if leaf:
                targets["treeids"].append(tree_id)
                targets["nodeids"].append(node_id)
                targets["weights"].append(float(node["value"]))
    tensor = numpy_helper.from_array
    raw = scope.get_unique_variable_name("tree_sum")
    container.add_node(
        "TreeEnsembleRegressor",
        operator.inputs[0].full_name,
        raw,
        op_domain="ai.onnx.ml",
        op_version=3,
        n_targets=1,
        post_transform="NONE",
        aggregate_function="SUM",
        nodes_treeids=nodes["treeids"],
        nodes_nodeids=nodes["nodeids"],
        nodes_featureids=nodes["featureids"],
        nodes_modes=nodes["modes"],
        nodes_values_as_tensor=tensor(np.asarray(nodes["values"], np.float64)),
        nodes_truenodeids=nodes["truenodeids"],
        nodes_falsenodeids=nodes["falsenodeids"],
        nodes_missing_value_tracks_true=nodes["missing_value_tracks_true"],
        target_treeids=targets["treeids"],
        target_nodeids=targets["nodeids"],
        target_ids=[0] * len(targets["weights"]),
        target_weights_as_tensor=tensor(np.asarray(targets["weights"], np.float64)),
        base_values_as_tensor=tensor(np.asarray(model._baseline_prediction, np.float64).ravel()),
        name=scope.get_unique_operator_name("TreeEnsembleRegressor"),
    )
    container.add_node(
        "Cast",
        raw,
        operator.outputs[0].full_name,
        to=onnx_proto.TensorProto.DOUBLE,
        name=scope.get_unique_operator_name("Cast"),
    )


def _spatial_level_shape(operator: Operator) -> None:
    width = 2 * len(operator.raw_operator.bandwidths_m)
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(), width])


def _convert_spatial_level(
    scope: Scope, operator: Operator, container: ModelComponentContainer
) -> None:
    """``[N, 3]`` latitude, longitude, area -> level and support per bandwidth, float64.

    Mirrors ``SpatialPriceLevel.transform``: per lattice, the query's position in nodes (NaN ->
    node 0, clipped to the lattice), the four nodes around it read through the block table, their
    bilinear mean of kernel mass and kernel sum of levels, then the shrunk level and the support.
    A row without coordinates gets NaN features, as in scikit-learn.
    """
    level: SpatialPriceLevel = operator.raw_operator
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        raise ConversionError("SpatialPriceLevel: float64 inputs expected")
    double, int64 = onnx_proto.TensorProto.DOUBLE, onnx_proto.TensorProto.INT64

    def name(stem: str) -> str:
        return scope.get_unique_variable_name(f"spatial_{stem}")

    def constant(stem: str, value: np.ndarray | float, dtype: int = double) -> str:
        array = np.asarray(value, onnx.helper.tensor_dtype_to_np_dtype(dtype))
        variable = name(stem)
        container.add_initializer(variable, dtype, list(array.shape), array.ravel().tolist())
        return variable

    def node(op: str, inputs: list[str], stem: str, **attrs: object) -> str:
        output = name(stem)
        container.add_node(op, inputs, output, name=scope.get_unique_operator_name(op), **attrs)
        return output

    def column(index: int, scale: float, stem: str) -> str:
        indices = constant(f"{stem}_index", [index], int64)
        picked = node("Gather", [operator.inputs[0].full_name, indices], stem, axis=1)
        return node("Mul", [picked, constant(f"{stem}_scale", scale)], f"{stem}_m")

    points = [column(0, METRES_PER_DEGREE, "north"), column(1, METRES_PER_DEGREE_EAST, "east")]
    missing = node("Or", [node("IsNaN", [p], "nan") for p in points], "missing")
    zero, one, nan = constant("zero", 0.0), constant("one", 1.0), constant("nan", np.nan)
    prior = constant("prior", level.prior_weight)
    prior_level = constant("prior_level", level.prior_weight * level.mean_level_)
    features = []
    for lattice in level.lattices_:
        mass, weighted = _lattice_lookup(lattice, points, zero, one, constant, node)
        numerator = node("Add", [weighted, prior_level], "num")
        shrunk = node("Div", [numerator, node("Add", [mass, prior], "den")], "level")
        support = node("Log", [node("Add", [mass, one], "mass1")], "support")
        features.extend(node("Where", [missing, nan, f], "feature") for f in (shrunk, support))
    container.add_node(
        "Concat",
        features,
        operator.outputs[0].full_name,
        axis=1,
        name=scope.get_unique_operator_name("Concat"),
    )


def _lattice_lookup(
    lattice: PriceLattice,
    points: list[str],
    zero: str,
    one: str,
    constant: Callable[..., str],
    node: Callable[..., str],
) -> tuple[str, str]:
    """``[N, 1]`` kernel mass and kernel sum of levels from ``lattice`` (``PriceLattice.read``)."""
    double, int64 = onnx_proto.TensorProto.DOUBLE, onnx_proto.TensorProto.INT64
    rows, offsets = [], []
    for axis, point in enumerate(points):
        origin = constant("origin", lattice.origin[axis])
        grid = node(
            "Div",
            [node("Sub", [point, origin], "shift"), constant("spacing", lattice.spacing_m)],
            "grid",
        )
        grid = node("Where", [node("IsNaN", [grid], "grid_nan"), zero, grid], "grid0")
        grid = node("Clip", [grid, zero, constant("top", lattice.shape[axis] - 2.0)], "clipped")
        floor = node("Floor", [grid], "floor")
        rows.append(node("Cast", [floor], "node", to=int64))
        offsets.append(node("Sub", [grid, floor], "offset"))
    f, g = offsets
    f1, g1 = node("Sub", [one, f], "f1"), node("Sub", [one, g], "g1")
    weights = [
        node("Mul", [a, b], "corner_weight") for a, b in ((f1, g1), (f1, g), (f, g1), (f, g))
    ]
    block = constant("block", BLOCK, int64)
    block_columns = constant("block_columns", lattice.block_index.shape[1], int64)
    nodes_per_block = constant("block_nodes", BLOCK * BLOCK, int64)
    table = constant("block_index", lattice.block_index.ravel(), int64)
    values = constant("values", lattice.values, onnx_proto.TensorProto.FLOAT)
    last_axis = constant("last_axis", [2], int64)
    total = None
    for weight, (down, right) in zip(weights, CORNERS, strict=True):
        row = node("Add", [rows[0], constant("down", down, int64)], "row")
        col = node("Add", [rows[1], constant("right", right, int64)], "col")
        row_block, col_block = node("Div", [row, block], "rb"), node("Div", [col, block], "cb")
        where = node("Add", [node("Mul", [row_block, block_columns], "rbc"), col_block], "bi")
        stored = node("Gather", [table, where], "stored_block")
        within = node(
            "Add",
            [
                node("Mul", [node("Mod", [row, block], "rm"), block], "rmb"),
                node("Mod", [col, block], "cm"),
            ],
            "within",
        )
        flat = node("Add", [node("Mul", [stored, nodes_per_block], "base"), within], "flat")
        read = node("Cast", [node("Gather", [values, flat], "read32")], "read", to=double)
        term = node("Mul", [node("Unsqueeze", [weight, last_axis], "w3"), read], "term")
        total = term if total is None else node("Add", [total, term], "sum")
    mass = node("Gather", [total, constant("mass_index", 0, int64)], "mass", axis=2)
    weighted = node("Gather", [total, constant("sum_index", 1, int64)], "weighted", axis=2)
    return mass, weighted
