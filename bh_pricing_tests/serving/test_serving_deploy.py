"""Static checks of deploy/: SAM template, Lambda requirements, Dockerfile and zip builder."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HANDLER = "bh_pricing.serving.handler"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as ``{"Fn::X": ...}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((DEPLOY / "template.yaml").read_text(), Loader=_CfnLoader)


def test_template_is_sam_with_both_packagings(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    image = resources["PricingImageFunction"]
    zipped = resources["PricingZipFunction"]
    assert image["Properties"]["PackageType"] == "Image"
    assert image["Metadata"]["Dockerfile"] == "deploy/lambda.Dockerfile"
    assert zipped["Properties"]["Handler"] == HANDLER
    assert zipped["Properties"]["Runtime"] == "python3.12"
    assert {image["Condition"], zipped["Condition"]} == {"UseImage", "UseZip"}


def test_api_requires_a_key_and_has_a_usage_plan(template: dict[str, Any]) -> None:
    api = template["Resources"]["PricingApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    for methods in api["DefinitionBody"]["paths"].values():
        for method in methods.values():
            assert method["security"] == [{"api_key": []}]
            assert method["x-amazon-apigateway-integration"]["type"] == "aws_proxy"


def test_role_is_least_privilege(template: dict[str, Any]) -> None:
    role = template["Resources"]["PricingRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadBundles"]["Action"] == "s3:GetObject"
    assert "${ModelBucket}/${ModelPrefix}/*" in by_sid["ReadBundles"]["Resource"]["Fn::Sub"]
    assert by_sid["WritePredictionLog"]["Action"] == "s3:PutObject"
    assert "${LogBucket}/${LogPrefix}/*" in by_sid["WritePredictionLog"]["Resource"]["Fn::Sub"]
    listing = by_sid["ListBundlesSoMissingFilesAre404"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == {"Fn::Sub": "${ModelPrefix}/*"}
    for statement in statements:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        assert all("*" not in a for a in actions), f"wildcard action in {statement['Sid']}"
        assert statement["Effect"] == "Allow"
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]


def test_smoke_check_may_invoke_the_function_and_nothing_else(template: dict[str, Any]) -> None:
    # BH_PRICING_SMOKE_LAMBDA: the Dagster run role attaches this policy to invoke the function
    policy = template["Resources"]["SmokeInvokePolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "lambda:InvokeFunction"
    function_arn = {
        "Fn::If": [
            "UseImage",
            {"Fn::GetAtt": ["PricingImageFunction", "Arn"]},
            {"Fn::GetAtt": ["PricingZipFunction", "Arn"]},
        ]
    }
    unqualified, qualified = statement["Resource"]
    assert unqualified == function_arn, "the function itself ($LATEST)"
    assert qualified == {"Fn::Sub": ["${FunctionArn}:*", {"FunctionArn": function_arn}]}, (
        "its versions and aliases (name:live)"
    )
    outputs = template["Outputs"]
    assert outputs["SmokeInvokePolicyArn"]["Value"] == {"Ref": "SmokeInvokePolicy"}
    assert "BH_PRICING_SMOKE_LAMBDA" in outputs["FunctionName"]["Description"]


def test_environment_and_outputs(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["BH_PRICING_MODEL_URI"] == {"Fn::Sub": "s3://${ModelBucket}/${ModelPrefix}"}
    assert env["BH_PRICING_PREDICTION_LOG_URI"] == {"Fn::Sub": "s3://${LogBucket}/${LogPrefix}"}
    outputs = template["Outputs"]
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "PricingApiApiKey"}


@pytest.mark.skipif(importlib.util.find_spec("cfnlint") is None, reason="cfn-lint not installed")
def test_cfn_lint_accepts_the_template() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(DEPLOY / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lambda_requirements_are_only_the_serving_runtime() -> None:
    lines = (DEPLOY / "lambda-requirements.txt").read_text().splitlines()
    names = {line.split(">")[0].split("=")[0].strip() for line in lines if line and line[0] != "#"}
    assert names == {"numpy", "onnxruntime", "pydantic", "fastapi", "mangum"}


def test_handler_setting_resolves_like_the_lambda_runtime() -> None:
    # the runtime splits "module.attribute" at the last dot, imports, then getattr
    module_name, attribute = HANDLER.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    assert callable(handler)
    assert handler.__module__ == "bh_pricing.serving.lambda_handler"


def test_serving_container_runs_uvicorn_on_the_serving_runtime() -> None:
    text = (DEPLOY / "serving.Dockerfile").read_text()
    assert '"uvicorn", "--factory", "bh_pricing.serving.api:create_app"' in text
    lines = (DEPLOY / "serving-requirements.txt").read_text().splitlines()
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries[0] == "-r lambda-requirements.txt"
    assert {e.split(">")[0].split("[")[0] for e in entries[1:]} == {"uvicorn", "boto3"}


def test_dockerfile_uses_the_lambda_base_image_and_the_handler() -> None:
    text = (DEPLOY / "lambda.Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in text
    assert f'CMD ["{HANDLER}"]' in text
    assert "lambda-requirements.txt" in text


@pytest.fixture(scope="module")
def builder() -> Any:
    """deploy/build_lambda_zip.py as a module."""
    script = DEPLOY / "build_lambda_zip.py"
    spec = importlib.util.spec_from_file_location("build_lambda_zip", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zip_builder_copies_only_the_runtime_modules(tmp_path: Path, builder: Any) -> None:
    builder.copy_sources(tmp_path)
    serving = {p.name for p in (tmp_path / "bh_pricing" / "serving").iterdir()}
    runtime = {"lambda_handler.py", "api.py", "service.py", "runtime.py", "schemas.py"}
    assert runtime | {"responses.py", "openapi.json"} <= serving
    export_side = {"bundle.py", "onnx_convert.py", "log_reader.py"}
    assert not serving & (export_side | {"smoke.py", "smoke_endpoints.py"})
    assert (tmp_path / "bh_pricing" / "io" / "storage.py").is_file(), "the runtime's storage"
    assert (tmp_path / "bh_pricing" / "core" / "intervals.py").is_file(), "interval bounds"
    assert not (tmp_path / "bh_pricing" / "core" / "models.py").exists()
    assert not (tmp_path / "bh_pricing" / "io" / "registry.py").exists()
    builder.make_zip(tmp_path, tmp_path.parent / "out.zip")
    assert builder.size_mb(tmp_path) < 1


def test_prune_keeps_what_inference_loads(tmp_path: Path, builder: Any) -> None:
    # given an installed tree with runtime libraries and tooling
    keep = [
        "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so",
        "onnxruntime/capi/libonnxruntime_providers_shared.so",
        "onnxruntime/__init__.py",
        "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
        "numpy.libs/libscipy_openblas64_-4b78795a.so",
        "pydantic/main.py",
    ]
    drop = [
        "onnxruntime/capi/libonnxruntime.so.1.32.0",
        "onnxruntime/tools/convert.py",
        "onnxruntime/transformers/models/x.py",
        "onnxruntime/backend/backend.py",
        "numpy/_core/_simd.cpython-312-x86_64-linux-gnu.so",
        "numpy/_core/include/numpy/ndarraytypes.h",
        "numpy/_core/tests/test_api.py",
        "numpy/f2py/__init__.py",
        "numpy/__init__.pyi",
        "pydantic/__pycache__/main.cpython-312.pyc",
    ]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    # when pruned, then only the tooling, tests, headers and caches are gone
    builder.prune(tmp_path)
    assert [n for n in keep if not (tmp_path / n).exists()] == []
    assert [n for n in drop if (tmp_path / n).exists()] == []
