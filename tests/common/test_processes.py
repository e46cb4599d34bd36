"""helpers.common.processes: no server outlives its kernel (a normal finish, a cell that raises, SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers.api import launch
from helpers.common import processes as server

START = """
import json, pathlib
from helpers.api.launch import start_api
api = start_api(model_dir=pathlib.Path({model_dir!r}), name="lifecycle")
pathlib.Path({marker!r}).write_text(json.dumps({{"pid": api.pid, "port": api.port}}))
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def wait_gone(pid: int, port: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid) and server.port_is_free(port):
            return True
        time.sleep(0.1)
    return False


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def papermill(notebook: Path, tmp_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "papermill", str(notebook), str(tmp_path / "out.ipynb"),
               "--cwd", str(tmp_path), "--no-progress-bar", "--kernel", "python3"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)


def read_marker(marker: Path, process: subprocess.Popen, seconds: float = 60) -> dict:
    import json

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text():
            return json.loads(marker.read_text())
        if process.poll() is not None and not marker.exists():
            raise AssertionError(f"papermill exited ({process.returncode}) before the server started")
        time.sleep(0.1)
    raise AssertionError("the server never started")


@pytest.mark.parametrize("ending", ["finishes", "raises"])
def test_server_stops_when_the_notebook_ends(bundle_dir, tmp_path, ending) -> None:
    marker = tmp_path / "server.json"
    last = "print('done')" if ending == "finishes" else "raise RuntimeError('a student error after the start')"
    nb = write_notebook(tmp_path / "nb.ipynb", [START.format(model_dir=str(bundle_dir), marker=str(marker)), last])
    process = papermill(nb, tmp_path)
    info = read_marker(marker, process)
    assert process.wait(120) == (0 if ending == "finishes" else 1)
    assert wait_gone(info["pid"], info["port"]), f"server {info} outlived the notebook"


def test_server_dies_when_the_runner_is_killed(bundle_dir, tmp_path) -> None:
    marker = tmp_path / "server.json"
    nb = write_notebook(tmp_path / "nb.ipynb", [START.format(model_dir=str(bundle_dir), marker=str(marker)),
                                                "import time; time.sleep(120)"])
    process = papermill(nb, tmp_path)
    info = read_marker(marker, process)
    assert pid_alive(info["pid"]) and not server.port_is_free(info["port"])
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert wait_gone(info["pid"], info["port"]), f"server {info} survived a SIGKILL of the runner"


def test_a_child_that_dies_at_start_fails_loudly(tmp_path) -> None:
    with pytest.raises(server.ServerError, match=r"exited with code \d+ before it was ready"):
        launch.start_api(model_dir=tmp_path / "no-such-bundle", name="broken", timeout=30)


def test_a_tampered_bundle_stops_the_server_with_the_reason(bundle_dir, tmp_path) -> None:
    import shutil

    broken = tmp_path / "model"
    shutil.copytree(bundle_dir, broken)
    (broken / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(server.ServerError, match="integrity check"):
        launch.start_api(model_dir=broken, name="tampered", timeout=30)


def test_busy_port_is_refused_not_silently_reused(bundle_dir) -> None:
    with launch.start_api(model_dir=bundle_dir, name="first") as first:
        second = server.BackgroundServer(launch.api_command(model_dir=bundle_dir), port=first.port, name="second")
        with pytest.raises(server.ServerError, match="busy"):
            second.start()
    assert server.port_is_free(first.port)


def test_stop_is_idempotent_and_frees_the_port(bundle_dir) -> None:
    api = launch.start_api(model_dir=bundle_dir, name="idempotent")
    port, pid = api.port, api.pid
    api.stop()
    api.stop()
    assert not api.is_running() and server.port_is_free(port) and not pid_alive(pid)


def test_an_orphaned_grandchild_is_found_after_adoption() -> None:
    server.adopt_orphans()
    # The child starts a sleeper and exits at once: the sleeper is orphaned and re-parented to us.
    script = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], "
              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)")
    orphan = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    try:
        alive = server.surviving_descendants(wait=0.5)
        assert any(f"pid {orphan} " in line for line in alive), alive
    finally:
        os.kill(orphan, signal.SIGKILL)
    assert not any(f"pid {orphan} " in line for line in server.surviving_descendants(wait=5))
