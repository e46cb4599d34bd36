"""deploy/rollouts: generated from the canary's settings (so the files and the local run cannot disagree), valid
for Kubernetes' strict schemas and for the schemas of Argo's kinds, which refuse a misspelled field."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from helpers.common import paths
from helpers.infra import policy
from helpers.infra.manifests import load_yaml_documents
from helpers.rollouts import manifests
from helpers.rollouts.canary import CanarySettings

SETTINGS = CanarySettings()
NGINX = "nginx.ingress.kubernetes.io/"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return manifests.render(SETTINGS, "1.0.0", "1.0.1")


def by_kind(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return copy.deepcopy(doc)


def test_the_committed_files_are_what_the_settings_generate() -> None:
    generated = manifests.render_files(SETTINGS, "1.0.0", "1.0.1")
    assert sorted(generated) == ["argo/rollout.yaml", "nginx/canary.yaml"]
    for name, text in generated.items():
        assert (manifests.ROLLOUTS_DIR / name).read_text() == text, "run python -m helpers.rollouts.manifests"


def test_write_manifests_writes_the_same_files(tmp_path) -> None:
    written = manifests.write_manifests(SETTINGS, "1.0.0", "1.0.1", tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == ["nginx/canary.yaml", "argo/rollout.yaml"]
    assert load_yaml_documents(tmp_path / "argo") == load_yaml_documents(manifests.ROLLOUTS_DIR / "argo")


@pytest.mark.parametrize("folder", ["nginx", "argo"])
def test_the_committed_manifests_are_valid(folder: str) -> None:
    assert manifests.validate(manifests.ROLLOUTS_DIR / folder) == []


def test_the_nginx_canary_mirrors_the_stable_ingress_with_the_canary_annotations(rendered) -> None:
    docs = rendered["nginx/canary.yaml"]
    stable = by_kind(load_yaml_documents(paths.DEPLOY_DIR / "k8s"), "Ingress")
    ingress = by_kind(docs, "Ingress")
    assert ingress["metadata"]["annotations"] == {NGINX + "canary": "true", NGINX + "canary-weight": "10",
                                                  NGINX + "canary-by-header": "X-Canary"}
    assert [r["host"] for r in ingress["spec"]["rules"]] == [r["host"] for r in stable["spec"]["rules"]]
    path, stable_path = (i["spec"]["rules"][0]["http"]["paths"][0] for i in (ingress, stable))
    assert path["path"] == stable_path["path"]
    service = by_kind(docs, "Service")
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    pod_labels = by_kind(docs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    stable_service = by_kind(load_yaml_documents(paths.DEPLOY_DIR / "k8s"), "Service")
    assert service["spec"]["selector"].items() <= pod_labels, "the canary Service selects the canary pods"
    assert not stable_service["spec"]["selector"].items() <= pod_labels, "and the stable Service does not"
    deployment = by_kind(docs, "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "model-api:1.0.1"
    assert policy.policy_problems(docs, min_replicas=1) == [], "the canary pod is as locked down as the stable one"


def test_the_rollout_has_the_local_steps_and_limits(rendered) -> None:
    docs = rendered["argo/rollout.yaml"]
    steps = by_kind(docs, "Rollout")["spec"]["strategy"]["canary"]["steps"]
    assert [s["setWeight"] for s in steps if "setWeight" in s] == list(SETTINGS.steps)
    assert [len(s["analysis"]["templates"]) for s in steps if "analysis" in s] == [1, 1, 1, 2]
    conditions = {m["name"]: m["successCondition"] for t in docs if t["kind"] == "AnalysisTemplate"
                  for m in t["spec"]["metrics"]}
    assert conditions == {"error-rate": "result[0] <= 0.01", "latency-p95": "result[0] <= 0.5",
                          "accuracy-upper-bound": "result >= 0.8", "non-inferiority": "result < 0.05"}


def test_other_settings_flow_into_every_file() -> None:
    changed = dataclasses.replace(SETTINGS, steps=(5, 50, 100), max_error_rate=0.02, header="X-Test", margin=0.03)
    docs = manifests.render(changed, "2.0.0", "2.1.0")
    ingress = by_kind(docs["nginx/canary.yaml"], "Ingress")["metadata"]["annotations"]
    assert (ingress[NGINX + "canary-weight"], ingress[NGINX + "canary-by-header"]) == ("5", "X-Test")
    rollout = by_kind(docs["argo/rollout.yaml"], "Rollout")["spec"]["strategy"]["canary"]
    assert [s["setWeight"] for s in rollout["steps"] if "setWeight" in s] == [5, 50, 100]
    assert rollout["trafficRouting"]["nginx"]["additionalIngressAnnotations"] == {"canary-by-header": "X-Test"}
    assert rollout["steps"][1]["analysis"]["args"] == [{"name": "stable-version", "value": "2.0.0"},
                                                       {"name": "canary-version", "value": "2.1.0"}]
    text = str(docs["argo/rollout.yaml"])
    assert "result[0] <= 0.02" in text and "margin=0.03" in text
    assert manifests.validate(docs["argo/rollout.yaml"]) == []


@pytest.mark.parametrize(("kind", "change", "where"), [
    ("Rollout", lambda d: d["spec"]["strategy"]["canary"]["steps"].__setitem__(0, {"setWieght": 10}),
     "spec.strategy.canary.steps[0]"),
    ("Rollout", lambda d: d["spec"]["strategy"]["canary"]["steps"].__setitem__(0, {"setWeight": "10"}),
     "spec.strategy.canary.steps[0].setWeight"),
    ("Rollout", lambda d: d["spec"]["strategy"]["canary"].__setitem__("canaryServce", "x"), "spec.strategy.canary"),
    ("Rollout", lambda d: d["spec"]["workloadRef"].__setitem__("scaleDown", "sometimes"), "spec.workloadRef.scaleDown"),
    ("AnalysisTemplate", lambda d: d["spec"]["metrics"][0].__setitem__("successCondtion", "x"), "spec.metrics[0]"),
    ("AnalysisTemplate", lambda d: d["spec"]["metrics"][0].__setitem__("interval", "one minute"),
     "spec.metrics[0].interval"),
])
def test_a_misspelled_or_mistyped_field_of_argos_kinds_fails(rendered, kind, change, where) -> None:
    doc = [copy.deepcopy(d) for d in rendered["argo/rollout.yaml"] if d["kind"] == kind][0]
    assert manifests.validate(doc) == []
    change(doc)
    errors = manifests.validate(doc)
    assert len(errors) == 1 and errors[0].startswith(f"{kind}/{doc['metadata']['name']}: {where}: "), errors


def test_built_in_kinds_get_kubernetes_strict_schemas_and_unknown_kinds_are_errors(rendered) -> None:
    ingress = by_kind(rendered["nginx/canary.yaml"], "Ingress")
    ingress["spec"]["rules"][0]["htp"] = ingress["spec"]["rules"][0].pop("http")
    assert manifests.validate(ingress) == ["Ingress/model-api-canary: spec.rules[0].htp: unknown field 'htp'"]
    experiment = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment", "metadata": {"name": "x"}}
    assert "no schema for Experiment" in manifests.validate(experiment)[0]
    assert sorted(manifests.schemas()) == [("argoproj.io/v1alpha1", "AnalysisTemplate"),
                                           ("argoproj.io/v1alpha1", "Rollout")]
