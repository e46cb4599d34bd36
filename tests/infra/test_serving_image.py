"""What the container installs is enough: in a venv holding exactly deploy/requirements-serving.txt, the API
serves, and a POST /retrain job trains, exports to ONNX, passes its gate and swaps the new model in."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from helpers import paths, server

SERVING_REQUIREMENTS = paths.DEPLOY_DIR / "requirements-serving.txt"
TOKEN = "image-token"


def serving_pins() -> dict[str, str]:
    """Return {distribution: version} from requirements-serving.txt."""
    pins = {}
    for line in SERVING_REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


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
    for name, version in serving_pins().items():
        assert metadata.version(name) == version, f"{name}: the lock and requirements-serving.txt disagree"
        assert link_distribution(name, site) > 0, name
    return root / "bin" / "python"


def test_the_venv_holds_exactly_the_serving_pins_and_they_are_consistent(serving_python: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "pip", "--python", str(serving_python), "list",
                             "--format", "freeze"], capture_output=True, text=True, timeout=120, check=True).stdout
    installed = dict(line.split("==") for line in listed.split())
    norm = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in installed.items()}
    assert norm == {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in serving_pins().items()}
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(serving_python), "check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_retrain_job_succeeds_with_only_the_serving_requirements(serving_python, bundle_dir, tmp_path) -> None:
    env = {"PYTHONPATH": str(paths.ROOT), "RETRAIN_TOKEN": TOKEN, "COURSE_STATE_DIR": str(tmp_path / "state"),
           "RETRAIN_DIR": str(tmp_path / "retrained")}  # as the Dockerfile sets them
    command = [str(serving_python), "-m", "helpers.serving", "--host", "127.0.0.1", "--port", "{port}",
               "--model-dir", str(bundle_dir)]
    with server.BackgroundServer(command, name="image-api", ready_path="/ready", env=env, timeout=60) as api:
        started = httpx.post(api.url + "/retrain", json={"n_estimators": 30, "extra_rows": 500},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while (job := httpx.get(f"{api.url}/retrain/{started.json()['job_id']}", timeout=10).json())["status"] in (
                "queued", "training", "validating", "packaging") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job["status"] == "accepted", job["message"] + "\n" + api.log_tail()
        served = httpx.get(api.url + "/model_info", timeout=10).json()["serving"]
        answer = httpx.post(api.url + "/predict", json={"features": [0.0] * 20}, timeout=10).json()
    assert served["version"] == job["new_version"] == answer["model_version"]
    assert (tmp_path / "retrained" / f"v{job['new_version']}" / "model.onnx").is_file()
