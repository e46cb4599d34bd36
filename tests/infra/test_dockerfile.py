"""helpers.infra.dockerfile on deploy/Dockerfile: hadolint clean, broken files caught with rule and line, the facts
Kubernetes relies on, and a build context holding only what the image copies."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from helpers.api import launch
from helpers.common import paths
from helpers.infra import dockerfile

DOCKERFILE = paths.DEPLOY_DIR / "Dockerfile"
CMD = ["python", "-m", "helpers.api", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - inside a container

BROKEN_DOCKERFILES = {
    "a latest tag": ("FROM ${BASE_IMAGE}", "FROM python:latest", "DL3007"),
    "an untagged image": ("FROM ${BASE_IMAGE}", "FROM python", "DL3006"),
    "a named user": ("USER 10001:10001", "USER app", "DL3066"),
    "a shell-form CMD": ("CMD " + json.dumps(CMD), "CMD " + " ".join(CMD), "DL3025"),
    "unpinned pip packages": ("--requirement /tmp/requirements-serving.txt", "fastapi uvicorn", "DL3013"),
}


def test_hadolint_is_clean_on_the_committed_dockerfile() -> None:
    assert dockerfile.hadolint(DOCKERFILE) == []


@pytest.mark.parametrize("name", sorted(BROKEN_DOCKERFILES))
def test_hadolint_fails_on_a_broken_dockerfile_with_rule_and_line(name: str) -> None:
    old, new, code = BROKEN_DOCKERFILES[name]
    text = DOCKERFILE.read_text()
    assert old in text
    broken = text.replace(old, new)
    findings = dockerfile.hadolint(broken)
    assert [f.code for f in findings] == [code], findings
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if new.splitlines()[0] in row)
    assert findings[0].line == line and findings[0].message and str(findings[0]).startswith(f"line {line}: {code}")


def test_hadolint_pip_cache_rule_knows_the_env_setting() -> None:
    text = DOCKERFILE.read_text().replace("--no-cache-dir ", "")
    assert dockerfile.hadolint(text) == [], "PIP_NO_CACHE_DIR=1 in ENV already satisfies DL3042"
    text = text.replace("    PIP_NO_CACHE_DIR=1 \\\n", "")
    assert [f.code for f in dockerfile.hadolint(text)] == ["DL3042"]


def test_hadolint_input_errors_are_loud(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        dockerfile.hadolint(tmp_path / "Dockerfile")
    assert dockerfile.hadolint_binary().parent == Path(sys.executable).parent


def test_dockerfile_structure() -> None:
    facts = dockerfile.dockerfile_structure(DOCKERFILE)
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, flags=re.MULTILINE)
    assert facts["base_image"] == "python:3.11-slim" and facts["stages"] == 1
    assert facts["user"] == "10001:10001"
    assert facts["exposed_ports"] == ["8000"]
    assert facts["env"]["PYTHONDONTWRITEBYTECODE"] == "1" and facts["env"]["PYTHONUNBUFFERED"] == "1"
    assert facts["cmd_exec_form"] and facts["cmd"] == CMD and facts["entrypoint"] is None
    assert "--workers" not in facts["cmd"], "the worker count comes from $WEB_CONCURRENCY"
    assert facts["healthcheck_exec_form"] and facts["healthcheck_command"][0] == "python"
    probe = facts["healthcheck_command"][-1]
    assert "urllib.request" in probe and "http://127.0.0.1:8000/health" in probe
    assert "curl" not in facts["healthcheck"], "python:3.11-slim has no curl"
    [install] = [run for run in facts["runs"] if "pip install" in run]
    assert "--no-cache-dir" in install and "--no-deps" in install and "requirements-serving.txt" in install


def test_the_image_serves_the_registry_production_bundle() -> None:
    facts = dockerfile.dockerfile_structure(DOCKERFILE)
    production = paths.relative(paths.PRODUCTION_DIR)
    assert production == "artifacts/production"
    assert "helpers/ /app/helpers/" in facts["copies"]
    assert f"{production}/ /app/artifacts/model/" in facts["copies"]
    assert facts["env"]["MODEL_DIR"] == "/app/artifacts/model" and facts["env"]["PYTHONPATH"] == "/app"
    assert facts["env"]["COURSE_STATE_DIR"].startswith("/tmp/") and facts["env"]["RETRAIN_DIR"].startswith("/tmp/")


def test_the_cmd_is_what_the_api_launcher_understands(monkeypatch) -> None:
    facts = dockerfile.dockerfile_structure(DOCKERFILE)
    for name, value in facts["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")  # what `docker run -e` or the Deployment's env would set
    args = launch.parse_args(facts["cmd"][3:])
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 8000, 3)  # noqa: S104
    assert args.model_dir == "/app/artifacts/model" and args.backend == "onnx"
    assert facts["cmd"][:3] == ["python", "-m", "helpers.api"] and (paths.ROOT / "helpers/api/__main__.py").is_file()


def test_dockerfile_structure_sees_shell_forms(tmp_path: Path) -> None:
    broken = tmp_path / "broken.dockerfile"  # not named "Dockerfile": dockerfile-parse gets a file object
    broken.write_text("FROM python:3.11\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\nCMD python app.py\n")
    facts = dockerfile.dockerfile_structure(broken)
    assert facts["user"] is None and facts["exposed_ports"] == []
    assert not facts["cmd_exec_form"] and facts["cmd"] == "python app.py"
    assert not facts["healthcheck_exec_form"]


@pytest.mark.parametrize(("value", "expected"), [('["a", "b"]', ["a", "b"]), ("a b", "a b"), ('["a", 1]', '["a", 1]'),
                                                 ("[not json", "[not json")])
def test_exec_form(value: str, expected: list[str] | str) -> None:
    assert dockerfile.exec_form(value) == expected


def test_healthcheck_command() -> None:
    assert dockerfile.healthcheck_command('--interval=5s --retries=3 CMD ["true"]') == '["true"]'
    assert dockerfile.healthcheck_command("NONE") is None


def test_hadolint_misses_a_latest_tag_hidden_in_an_arg_default() -> None:
    text = DOCKERFILE.read_text().replace("BASE_IMAGE=python:3.11-slim", "BASE_IMAGE=python:latest")
    assert dockerfile.hadolint(text) == [], "hadolint does not resolve ARG defaults: the structure test must"
    assert not dockerfile.dockerfile_structure(DOCKERFILE)["base_image"].endswith(":latest")


def test_dockerignore_sends_only_what_the_dockerfile_copies(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths

    tree = ["helpers/__init__.py", "helpers/api/app.py", "helpers/api/__pycache__/app.cpython-311.pyc",
            "artifacts/production/model.onnx", "artifacts/production/metadata.json",
            "artifacts/model/model.onnx", "artifacts/mlflow/mlflow.db", "artifacts/reference/model.joblib",
            "deploy/requirements-serving.txt", "deploy/Dockerfile", "deploy/k8s/deployment.yaml",
            "data/dataset.csv", "notebooks/01_dataset.ipynb", ".git/config", ".venv/bin/python", ".env",
            "requirements.txt", "README.md", "tests/infra/test_dockerfile.py"]
    for name in tree:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    patterns = [line.strip() for line in (paths.ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sent = {p for p in exclude_paths(str(tmp_path), patterns) if (tmp_path / p).is_file()}
    assert sent == {"helpers/__init__.py", "helpers/api/app.py", "artifacts/production/model.onnx",
                    "artifacts/production/metadata.json", "deploy/requirements-serving.txt"}
