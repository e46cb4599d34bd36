"""helpers.infra.policy: what a schema cannot check (replicas, limits, probes, a locked-down pod, sane HPA and PDB)."""

from __future__ import annotations

import copy

import pytest

from helpers.common import paths
from helpers.infra import manifests, policy


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return manifests.load_yaml_documents(paths.DEPLOY_DIR / "k8s")


def by_kind(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return copy.deepcopy(doc)


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_committed_manifests_meet_the_policy(docs: list[dict]) -> None:
    assert policy.policy_problems(docs) == []
    assert policy.policy_problems(paths.DEPLOY_DIR / "k8s") == [], "a folder works as well as documents"


def test_policy_catches_a_plain_deployment(docs: list[dict]) -> None:
    deployment, hpa = by_kind(docs, "Deployment"), by_kind(docs, "HorizontalPodAutoscaler")
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    del pod["securityContext"]["runAsNonRoot"], pod["securityContext"]["runAsUser"]
    del pod["automountServiceAccountToken"], pod["securityContext"]["seccompProfile"]
    box = container(deployment)
    box["image"] = "model-api:latest"
    box["resources"] = {"limits": {"memory": "2Gi"}}
    box["readinessProbe"]["httpGet"]["path"] = "/health"
    del box["startupProbe"]
    box["securityContext"] = {"allowPrivilegeEscalation": True, "privileged": True}
    hpa["spec"]["minReplicas"] = 1
    problems = "\n".join(policy.policy_problems([deployment, hpa]))
    for expected in ["replicas should be at least 3, is 1", "image 'model-api:latest'", "memory limit is 2Gi",
                     "no cpu limit", "no memory request", "readinessProbe should GET /ready, gets '/health'",
                     "no startupProbe", "runAsNonRoot should be true", "runAsUser should be a numeric non-root id",
                     "allowPrivilegeEscalation should be false", "must not be privileged",
                     "readOnlyRootFilesystem should be true", "capabilities should drop ALL",
                     "automountServiceAccountToken should be false", "seccompProfile should be RuntimeDefault",
                     "HorizontalPodAutoscaler/model-api: minReplicas should be at least 3, is 1"]:
        assert expected in problems, expected


def test_an_untagged_image_a_root_user_and_a_greedy_request_are_problems(docs: list[dict]) -> None:
    deployment = by_kind(docs, "Deployment")
    box = container(deployment)
    box["image"] = "registry.example:5000/model-api"  # the colon belongs to the registry's port, not a tag
    box["securityContext"]["runAsUser"] = 0
    box["resources"]["requests"]["cpu"] = "2"
    problems = "\n".join(policy.policy_problems([deployment]))
    assert "should carry a fixed tag" in problems and "runAsUser should be a numeric non-root id, is 0" in problems
    assert "cpu request exceeds its limit" in problems


def test_policy_compares_quantities_not_spellings(docs: list[dict]) -> None:
    deployment = by_kind(docs, "Deployment")
    container(deployment)["resources"]["limits"] = {"cpu": "0.5", "memory": "1024Mi"}
    assert policy.policy_problems([deployment]) == []


@pytest.mark.parametrize(("text", "value"), [("500m", 0.5), ("1Gi", 2**30), (2, 2), ("0.5", 0.5), ("1k", 1000),
                                             ("64Mi", 64 * 2**20), ("1e3", 1000)])
def test_parse_quantity(text: str | int, value: float) -> None:
    assert policy.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["lots", "5q", "", "-1"])
def test_parse_quantity_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        policy.parse_quantity(text)


def test_policy_needs_a_deployment_and_a_sane_budget(docs: list[dict]) -> None:
    pdb = by_kind(docs, "PodDisruptionBudget")
    pdb["spec"]["minAvailable"] = 3
    problems = policy.policy_problems([pdb])
    assert problems[0] == "no Deployment found" and "node drains would block" in problems[1]


def test_an_hpa_must_scale_this_deployment_within_sane_bounds(docs: list[dict]) -> None:
    deployment, hpa = by_kind(docs, "Deployment"), by_kind(docs, "HorizontalPodAutoscaler")
    hpa["spec"]["scaleTargetRef"]["name"] = "another-api"
    hpa["spec"]["maxReplicas"] = 2
    problems = policy.policy_problems([deployment, hpa])
    assert problems == ["HorizontalPodAutoscaler/model-api: maxReplicas is below minReplicas",
                        "HorizontalPodAutoscaler/model-api: scales 'another-api', which is not a Deployment here"]
