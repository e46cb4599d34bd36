"""What the container installs is exactly enough: deploy/requirements-serving.txt pins the lock's versions and is
the runtime closure; the API imports with only those packages; and in a venv holding exactly them, the API
serves and a POST /retrain job trains, exports to ONNX, passes its gate and swaps the new model in."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from helpers.common import paths
from helpers.common.processes import BackgroundServer

SERVING_REQUIREMENTS = paths.DEPLOY_DIR / "requirements-serving.txt"
SERVING_ROOTS = ["fastapi", "uvicorn", "httptools", "numpy", "onnxruntime", "orjson", "prometheus-client",
                 "scikit-learn", "skops", "pandas", "scipy", "skl2onnx"]
"""What the API imports directly (skl2onnx: POST /retrain exports the candidate to ONNX; httptools: uvicorn's
HTTP parser, written in C)."""
LINUX_CPYTHON_311 = {"extra": "", "python_version": "3.11", "python_full_version": "3.11.9", "sys_platform": "linux",
                     "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
                     "platform_python_implementation": "CPython", "platform_machine": "x86_64"}
TOKEN = "image-token"


def normalise(name: str) -> str:
    """Return a distribution name in its canonical form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """Return {canonical name: version} of a requirements file; every line must be an exact pin."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not an exact pin"
            found[normalise(name)] = version.strip()
    return found


def test_serving_requirements_pins_equal_the_lock() -> None:
    serving, lock = pins(SERVING_REQUIREMENTS), pins(paths.ROOT / "requirements.txt")
    assert set(SERVING_ROOTS) <= set(serving)
    for name, version in serving.items():
        assert lock.get(name) == version, f"{name}=={version} in requirements-serving.txt, {lock.get(name)} in the lock"


def test_serving_requirements_are_the_runtime_closure() -> None:
    from packaging.requirements import Requirement

    closure, todo = set(), list(SERVING_ROOTS)
    while todo:
        name = normalise(todo.pop())
        if name in closure:
            continue
        closure.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(LINUX_CPYTHON_311):
                todo.append(requirement.name)
    assert set(pins(SERVING_REQUIREMENTS)) == closure


@pytest.mark.slow
def test_the_app_imports_with_only_the_serving_requirements() -> None:
    script = textwrap.dedent(f"""
        import importlib.abc, re, sys
        from importlib.metadata import packages_distributions
        allowed = {sorted(pins(SERVING_REQUIREMENTS))!r}
        norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
        blocked = {{m for m, ds in packages_distributions().items() if m != "helpers"
                    and not any(norm(d) in allowed for d in ds)}}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (not in the serving image)", name=name)
        sys.meta_path.insert(0, Block())
        import helpers.api.app, helpers.api.launch, helpers.api.retraining
        assert callable(helpers.api.app.create_app_from_env)
        try:
            import matplotlib
        except ModuleNotFoundError:
            pass
        else:
            raise AssertionError("the block does not work: matplotlib is not in the serving image")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=paths.ROOT, check=False)
    assert proc.returncode == 0, proc.stderr.strip().splitlines()[-1]


def link_distribution(name: str, site: Path) -> int:
    """Symlink every installed file of one distribution into `site`; return how many (scripts outside are skipped)."""
    dist = metadata.distribution(name)
    linked = 0
    for file in dist.files or []:
        if file.parts[0] == "..":  # console scripts in bin/: the server is started with `python -m`
            continue
        target = site / Path(*file.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(Path(dist.locate_file(file)).resolve())
            linked += 1
    return linked


@pytest.fixture(scope="module")
def serving_python(tmp_path_factory) -> Path:
    """Return the interpreter of a fresh venv that holds exactly the serving pins (files linked from this venv)."""
    root = tmp_path_factory.mktemp("serving-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    [site] = (root / "lib").glob("python3.*/site-packages")
    for name, version in pins(SERVING_REQUIREMENTS).items():
        assert metadata.version(name) == version, f"{name}: the lock and requirements-serving.txt disagree"
        assert link_distribution(name, site) > 0, name
    return root / "bin" / "python"


@pytest.mark.slow
def test_the_venv_holds_exactly_the_serving_pins_and_they_are_consistent(serving_python: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "pip", "--python", str(serving_python), "list",
                             "--format", "freeze"], capture_output=True, text=True, timeout=120, check=True).stdout
    installed = dict(line.split("==") for line in listed.split())
    assert {normalise(k): v for k, v in installed.items()} == pins(SERVING_REQUIREMENTS)
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(serving_python), "check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_a_retrain_job_succeeds_with_only_the_serving_requirements(serving_python, bundle_dir, tmp_path) -> None:
    env = {"PYTHONPATH": str(paths.ROOT), "RETRAIN_TOKEN": TOKEN, "COURSE_STATE_DIR": str(tmp_path / "state"),
           "RETRAIN_DIR": str(tmp_path / "retrained")}  # as the Dockerfile sets them (the token comes from a Secret)
    command = [str(serving_python), "-m", "helpers.api", "--host", "127.0.0.1", "--port", "{port}",
               "--model-dir", str(bundle_dir)]
    with BackgroundServer(command, name="image-api", ready_path="/ready", env=env, timeout=60) as api:
        started = httpx.post(api.url + "/retrain", json={"extra_rows": 1000},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while (job := httpx.get(f"{api.url}/retrain/{started.json()['job_id']}", timeout=10).json())["status"] in (
                "queued", "training", "validating", "packaging") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job["status"] == "accepted", job["message"] + "\n" + api.log_tail()
        served = httpx.get(api.url + "/model_info", timeout=10).json()["serving"]
        answer = httpx.post(api.url + "/predict", json={"features": [0.0] * 20}, timeout=10).json()
    assert served["version"] == job["new_version"] == answer["model_version"] == "1.0.1"
    assert (tmp_path / "retrained" / f"v{job['new_version']}" / "model.onnx").is_file()
