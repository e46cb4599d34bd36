"""The environment files: exact pins, one source of truth for conda and pip."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _requirement_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_every_requirement_is_pinned_exactly() -> None:
    lines = [ln for ln in _requirement_lines(ROOT / "requirements.txt") if not ln.startswith("-")]
    assert lines
    loose = [ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-+]+", ln)]
    assert loose == []


def test_every_direct_dependency_is_in_the_lock() -> None:
    locked = {ln.split("==")[0].lower() for ln in _requirement_lines(ROOT / "requirements.txt")}
    direct = {re.split(r"[<>=\[ ]", ln)[0].lower() for ln in _requirement_lines(ROOT / "requirements.in")}
    assert direct - locked == set()


def test_environment_yml_installs_exactly_the_pins() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.txt" in pip_section
    conda_pkgs = [d for d in deps if isinstance(d, str) and d not in ("python=3.11", "pip")]
    assert conda_pkgs == [], "packages belong in requirements.txt, not in conda's list (one source of truth)"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make run" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / ".github" / "workflows" / "ci.yml").read_text()
