"""The course's deployment policy: what a schema cannot check (replicas, limits, probes, a locked-down pod)."""

from __future__ import annotations

import re

from helpers.infra.manifests import Source, iter_sources

MEMORY_LIMIT = "1Gi"
CPU_LIMIT = "500m"
MIN_REPLICAS = 3
PROBE_PATHS: dict[str, tuple[str, ...]] = {
    "livenessProbe": ("/health",),
    "readinessProbe": ("/ready",),
    "startupProbe": ("/health", "/ready"),
}


def policy_problems(docs: Source, memory_limit: str = MEMORY_LIMIT, cpu_limit: str = CPU_LIMIT,
                    min_replicas: int = MIN_REPLICAS) -> list[str]:
    """Return the course policy's complaints about a set of resources (empty when the set complies)."""
    resources = [doc for _, doc in iter_sources(docs) if isinstance(doc, dict)]
    problems: list[str] = []
    deployments = [d for d in resources if d.get("kind") == "Deployment"]
    if not deployments:
        problems.append("no Deployment found")
    for deployment in deployments:
        problems += deployment_problems(deployment, memory_limit, cpu_limit, min_replicas)
    names = {resource_name(d) for d in deployments}
    for hpa in (d for d in resources if d.get("kind") == "HorizontalPodAutoscaler"):
        spec = hpa.get("spec") or {}
        where = f"HorizontalPodAutoscaler/{resource_name(hpa)}"
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
            problems.append(f"PodDisruptionBudget/{resource_name(pdb)}: minAvailable {available} leaves no pod "
                            f"evictable at {min_replicas} replicas (node drains would block)")
    return problems


def deployment_problems(deployment: dict, memory_limit: str, cpu_limit: str, min_replicas: int) -> list[str]:
    """Return the policy problems of one Deployment and its containers."""
    where = f"Deployment/{resource_name(deployment)}"
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
        problems += container_problems(container, pod_security, f"{where} container {container.get('name')!r}",
                                        memory_limit, cpu_limit)
    return problems


def container_problems(container: dict, pod_security: dict, where: str, memory_limit: str,
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


QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")
SUFFIXES = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(value: str | int | float) -> float:
    """Return a Kubernetes quantity ("500m", "1Gi", "0.5", 2) as a plain number (cores or bytes)."""
    match = QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * SUFFIXES[match.group(2)]


def resource_name(doc: dict) -> str:
    """Return a resource's metadata.name, or '?'."""
    return str((doc.get("metadata") or {}).get("name", "?"))
