"""helpers.infra.manifests on deploy/k8s: strict schemas of a pinned Kubernetes, every error listed with its
resource and field, unknown apiVersions as errors; and the manifests say what the chapter says."""

from __future__ import annotations

import copy
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from helpers.common import paths
from helpers.infra import dockerfile, manifests

K8S = paths.DEPLOY_DIR / "k8s"


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return manifests.load_yaml_documents(K8S)


def by_kind(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return copy.deepcopy(doc)


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_committed_manifests_pass_strict_validation(docs: list[dict]) -> None:
    assert manifests.validate_manifests(K8S) == []
    assert manifests.K8S_VERSION == "1.30"
    assert sorted(d["kind"] for d in docs) == ["Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace",
                                               "PodDisruptionBudget", "Service"]
    assert all(d["metadata"].get("namespace") == "model-serving" for d in docs if d["kind"] != "Namespace")


def test_jsonschema_is_imported_without_leaving_a_blocked_module_behind(docs: list[dict]) -> None:
    manifests.validate_manifests(by_kind(docs, "Service"))
    assert "jsonschema" in sys.modules
    assert sys.modules.get("rfc3987_syntax", "absent") is not None, "the import block is lifted afterwards"


def test_every_error_of_a_broken_deployment_is_listed_with_resource_and_field(docs: list[dict]) -> None:
    import kubernetes_validate

    deployment = by_kind(docs, "Deployment")
    deployment["spec"]["replicas"] = "3"
    box = container(deployment)
    box["readinessProbes"] = box.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):  # the library itself stops at the first error
        kubernetes_validate.validate(deployment, manifests.K8S_VERSION, strict=True)
    errors = manifests.validate_manifests(deployment)
    assert [(e.kind, e.name, e.path) for e in errors] == [
        ("Deployment", "model-api", "spec.replicas"),
        ("Deployment", "model-api", "spec.template.spec.containers[0].readinessProbes"),
    ]
    assert "not of type 'integer'" in errors[0].message and "readinessProbes" in errors[1].message
    assert str(errors[1]).startswith("Deployment/model-api: spec.template.spec.containers[0].readinessProbes: ")
    assert all(e.source == "<document>" for e in errors)


def test_without_strict_a_misspelled_field_would_pass(docs: list[dict]) -> None:
    import kubernetes_validate

    deployment = by_kind(docs, "Deployment")
    box = container(deployment)
    box["readinessProbes"] = box.pop("readinessProbe")
    kubernetes_validate.validate(deployment, manifests.K8S_VERSION, strict=False)  # no error: why we use strict
    assert [e.path for e in manifests.validate_manifests(deployment)] == [
        "spec.template.spec.containers[0].readinessProbes"]


def test_an_unknown_api_version_is_an_error_not_a_warning(docs: list[dict]) -> None:
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    hpa["apiVersion"] = "autoscaling/v2beta2"  # removed in Kubernetes 1.26
    [error] = manifests.validate_manifests(hpa)
    assert (error.kind, error.name, error.path) == ("HorizontalPodAutoscaler", "model-api", "apiVersion")
    assert "autoscaling/v2beta2" in error.message
    assert manifests.validate_manifests(hpa, version="1.25") == [], "it existed until 1.25: the version is pinned"


def test_an_old_field_inside_a_new_api_version_is_caught(docs: list[dict]) -> None:
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    hpa["spec"]["targetCPUUtilizationPercentage"] = 70  # an autoscaling/v1 field
    [error] = manifests.validate_manifests(hpa)
    assert error.path == "spec.targetCPUUtilizationPercentage" and "unknown field" in error.message


def test_broken_examples_from_yaml_text_and_mixed_inputs(docs: list[dict]) -> None:
    text = textwrap.dedent("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {ports: [{port: "80"}], selector: {app: web}, tipe: ClusterIP}
        ---
        kind: ConfigMap
    """)
    errors = manifests.validate_manifests([text, by_kind(docs, "Namespace")])
    assert [(e.kind, e.name, e.path) for e in errors] == [
        ("Service", "web", "spec.ports[0].port"), ("Service", "web", "spec.tipe"), ("?", "?", "")]
    assert all(e.source == "<text>" for e in errors)
    assert str(errors[2]) == "?/?: (document): not a Kubernetes resource (needs apiVersion and kind)"


def test_errors_from_files_name_the_file(tmp_path: Path, docs: list[dict]) -> None:
    broken = by_kind(docs, "Service")
    broken["spec"]["tipe"] = "ClusterIP"
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(broken))
    [error] = manifests.validate_manifests(tmp_path)
    assert error.source.endswith("service.yaml") and error.path == "spec.tipe"


def test_annotation_values_must_be_strings(docs: list[dict]) -> None:
    ingress = by_kind(docs, "Ingress")
    ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/limit-rps"] = 10
    [error] = manifests.validate_manifests(ingress)
    assert error.path == "metadata.annotations.nginx.ingress.kubernetes.io/limit-rps"


def test_every_annotation_and_label_value_is_a_string_in_the_yaml() -> None:
    for file in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            for meta in (doc["metadata"], doc.get("spec", {}).get("template", {}).get("metadata", {})):
                for key in ("annotations", "labels"):
                    for name, value in (meta.get(key) or {}).items():
                        assert isinstance(value, str), f"{file.name}: {key} {name}: {value!r} is not a string"


def test_manifests_express_the_chapter(docs: list[dict]) -> None:
    deployment, service, ingress = by_kind(docs, "Deployment"), by_kind(docs, "Service"), by_kind(docs, "Ingress")
    hpa, pdb = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "PodDisruptionBudget")
    box, pod = container(deployment), deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["metadata"]["name"] == "model-api" and deployment["spec"]["replicas"] == 3
    assert box["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi"}
    assert {"cpu", "memory"} == set(box["resources"]["requests"])
    assert box["livenessProbe"]["httpGet"]["path"] == "/health" and box["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert "startupProbe" in box
    env = {e["name"]: e["value"] for e in box["env"]}
    assert env["WEB_CONCURRENCY"].isdigit()
    security = box["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]} and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in box["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    # the image and the manifests agree: port, user, where the model is
    facts = dockerfile.dockerfile_structure(paths.DEPLOY_DIR / "Dockerfile")
    assert [p["containerPort"] for p in box["ports"]] == [int(port) for port in facts["exposed_ports"]]
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == facts["user"]
    assert env["MODEL_DIR"] == facts["env"]["MODEL_DIR"]
    # the Service, HPA and PDB point at these pods
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, 8000)]
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["scaleTargetRef"]["name"] == "model-api"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["averageUtilization"] == 70
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 2
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # the load balancer settings
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "load-balance"] == "round_robin"
    assert notes[prefix + "affinity"] == "cookie" and notes[prefix + "session-cookie-name"]
    assert notes[prefix + "limit-rpm"] == "1000" and notes[prefix + "ssl-redirect"] == "true"
    assert ingress["spec"]["tls"][0]["secretName"] == "model-api-tls"
    assert ingress["spec"]["tls"][0]["hosts"] == [r["host"] for r in ingress["spec"]["rules"]]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "model-api", "port": {"number": 80}}
    assert "readiness" in (K8S / "ingress.yaml").read_text(), "the comment says the readiness probe is the health check"


def test_load_yaml_documents_skips_empty_documents(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("---\nkind: A\n---\n---\nkind: B\n")
    (tmp_path / "notes.txt").write_text("kind: C\n")
    assert manifests.load_yaml_documents(tmp_path) == [{"kind": "A"}, {"kind": "B"}]
    with pytest.raises(FileNotFoundError):
        manifests.load_yaml_documents(tmp_path / "missing.yaml")


def test_field_path_is_kubectl_style() -> None:
    assert manifests.field_path(["spec", "template", "spec", "containers", 0, "image"]) == \
        "spec.template.spec.containers[0].image"
    assert manifests.field_path([]) == ""
