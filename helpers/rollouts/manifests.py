"""The local canary, written for a cluster: an NGINX canary Ingress pair, and an Argo Rollout with its analysis.

Everything is generated from the same CanarySettings the local run used (steps, limits, header), and from the
chapter's own manifests in deploy/k8s (pod template, host, service port), so the files cannot disagree with
either. Two alternatives, each in its own folder of deploy/rollouts/:
- nginx/: a canary Deployment and Service, and a canary Ingress beside deploy/k8s/ingress.yaml (the stable one);
  a person or a controller raises `canary-weight` step by step.
- argo/: an Argo Rollout that takes over deploy/k8s's Deployment, creates the canary Ingress itself, sets each
  weight and runs the analysis (AnalysisTemplates) after each step, aborting on a failed check.
Built-in kinds are validated with Kubernetes' strict schemas; Argo's kinds with the JSON schemas in
deploy/rollouts/schemas/, written for the fields used here (an unknown or misspelled field fails).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from helpers.common import paths
from helpers.infra.manifests import field_path, import_jsonschema, iter_sources, load_yaml_documents, validate_manifests
from helpers.rollouts.canary import CanarySettings

ROLLOUTS_DIR: Path = paths.DEPLOY_DIR / "rollouts"
SCHEMAS_DIR: Path = ROLLOUTS_DIR / "schemas"
NGINX = "nginx.ingress.kubernetes.io/"
PROMETHEUS = "http://prometheus.monitoring.svc:9090"
LABELS_SERVICE = "http://label-joiner.model-serving.svc"
"""A small service that joins the OIP answers with the delayed labels (what the notebook does in Python)."""


def chapter_resources() -> dict[str, dict]:
    """Return deploy/k8s's Deployment, Service and Ingress by kind."""
    return {doc["kind"]: doc for doc in load_yaml_documents(paths.DEPLOY_DIR / "k8s")}


def canary_name(stable: dict) -> str:
    """Return the name of the canary twin of a resource."""
    return f"{stable['metadata']['name']}-canary"


def nginx_canary(settings: CanarySettings, candidate: str) -> list[dict]:
    """Return the NGINX variant: a canary Deployment (image of `candidate`) and Service, and the canary Ingress at
    the first step's weight, with the header that forces a version."""
    k8s = chapter_resources()
    deployment, service, ingress = (copy.deepcopy(k8s[k]) for k in ("Deployment", "Service", "Ingress"))
    name = canary_name(deployment)
    labels = {**deployment["metadata"]["labels"], "app.kubernetes.io/name": name}
    deployment["metadata"].update(name=name, labels=labels)
    spec = deployment["spec"]
    spec["replicas"] = 1
    spec["selector"]["matchLabels"]["app.kubernetes.io/name"] = name
    pod = spec["template"]
    pod["metadata"]["labels"]["app.kubernetes.io/name"] = name
    for constraint in pod["spec"].get("topologySpreadConstraints", []):
        constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] = name
    container = pod["spec"]["containers"][0]
    container["image"] = f"{container['image'].split(':')[0]}:{candidate}"
    service["metadata"].update(name=name, labels=labels)
    service["spec"]["selector"] = {"app.kubernetes.io/name": name}
    ingress["metadata"].update(name=canary_name(ingress), labels=labels, annotations={
        NGINX + "canary": "true",
        NGINX + "canary-weight": str(settings.steps[0]),
        NGINX + "canary-by-header": settings.header,
    })
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            path["backend"]["service"]["name"] = name
    return [deployment, service, ingress]


def analysis_args(stable: str, candidate: str) -> list[dict]:
    """Return the arguments every analysis receives: the model and the two versions."""
    return [{"name": "stable-version", "value": stable}, {"name": "canary-version", "value": candidate}]


def prometheus_metric(name: str, query: str, condition: str) -> dict:
    """Return an AnalysisTemplate metric measured by a Prometheus query, checked once a minute."""
    return {"name": name, "interval": "1m", "count": 5, "failureLimit": 0, "successCondition": condition,
            "provider": {"prometheus": {"address": PROMETHEUS, "query": query}}}


def web_metric(name: str, url: str, json_path: str, condition: str) -> dict:
    """Return an AnalysisTemplate metric read from a URL's JSON answer."""
    return {"name": name, "interval": "1m", "count": 5, "failureLimit": 0, "successCondition": condition,
            "provider": {"web": {"url": url, "jsonPath": json_path, "timeoutSeconds": 10}}}


def analysis_templates(settings: CanarySettings) -> list[dict]:
    """Return the two AnalysisTemplates: the checks of every step, and the promotion test of the last one."""
    where = f'model="{settings.model}",version="{{{{args.canary-version}}}}"'
    rate = f"sum(rate(inference_requests_total{{{where}{{code}}}}[5m]))"
    error_rate = rate.replace("{code}", ',code=~"5.."') + " / " + rate.replace("{code}", "")
    p95 = f"histogram_quantile(0.95, sum by (le) (rate(inference_duration_seconds_bucket{{{where}}}[5m])))"
    query = f"model={settings.model}&version={{{{args.canary-version}}}}"
    checks = [prometheus_metric("error-rate", error_rate, f"result[0] <= {settings.max_error_rate:g}"),
              prometheus_metric("latency-p95", p95, f"result[0] <= {settings.max_p95_seconds:g}"),
              web_metric("accuracy-upper-bound", f"{LABELS_SERVICE}/accuracy?{query}&alpha={settings.alpha:g}",
                         "{$.upper_bound}", f"result >= {settings.min_accuracy:g}")]
    promotion = web_metric("non-inferiority", f"{LABELS_SERVICE}/non-inferiority?{query}"
                           f"&stable={{{{args.stable-version}}}}&margin={settings.margin:g}", "{$.pvalue}",
                           f"result < {settings.alpha:g}")
    args = [{"name": "stable-version"}, {"name": "canary-version"}]
    meta = {"namespace": "model-serving", "labels": {"app.kubernetes.io/part-of": "mlops-course"}}
    return [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
             "metadata": {"name": name, **copy.deepcopy(meta)}, "spec": {"args": args, "metrics": metrics}}
            for name, metrics in (("model-canary-checks", checks), ("model-canary-promotion", [promotion]))]


def argo_rollout(settings: CanarySettings, stable: str, candidate: str) -> list[dict]:
    """Return the Argo variant: a canary Service, the Rollout with the local run's steps, and its analysis."""
    k8s = chapter_resources()
    deployment, service, ingress = k8s["Deployment"], copy.deepcopy(k8s["Service"]), k8s["Ingress"]
    service["metadata"]["name"] = canary_name(service)  # Argo points each Service at its own pods by hash
    steps: list[dict] = []
    for number, weight in enumerate(settings.steps, start=1):
        templates = [{"templateName": "model-canary-checks"}]
        if number == len(settings.steps):
            templates.append({"templateName": "model-canary-promotion"})
        analysis = {"templates": templates, "args": analysis_args(stable, candidate)}
        steps += [{"setWeight": weight}, {"analysis": analysis}]
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": copy.deepcopy(deployment["metadata"]),
               "spec": {"replicas": deployment["spec"]["replicas"], "revisionHistoryLimit": 5,
                        "selector": copy.deepcopy(deployment["spec"]["selector"]),
                        "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": deployment["metadata"]["name"], "scaleDown": "progressively"},
                        "strategy": {"canary": {
                            "stableService": k8s["Service"]["metadata"]["name"],
                            "canaryService": service["metadata"]["name"],
                            "trafficRouting": {"nginx": {
                                "stableIngress": ingress["metadata"]["name"],
                                "additionalIngressAnnotations": {"canary-by-header": settings.header}}},
                            "steps": steps}}}}
    return [service, rollout, *analysis_templates(settings)]


HEADERS = {
    "nginx/canary.yaml": """\
A canary with ingress-nginx alone: the candidate's Deployment and Service, and a canary Ingress for the
same host and path as deploy/k8s/ingress.yaml (the stable one). NGINX sends `canary-weight` percent of
the requests to the canary; the header {header} forces a version ("always": the canary, "never": the stable),
before any weight. Raise the weight step by step ({steps}) while the checks hold (see argo/ for a
controller that does it); delete the canary Ingress to roll back, or point deploy/k8s at the new image to
promote. The ingress-nginx project is being retired: the Gateway API's HTTPRoute (weighted backendRefs) is
its successor, and the same weights carry over.""",
    "argo/rollout.yaml": """\
A canary with Argo Rollouts (https://argoproj.github.io/rollouts/): the Rollout takes over the pods of
deploy/k8s/deployment.yaml (workloadRef), and when its image changes it steps the new version through
{steps} percent of the requests, creating the canary Ingress itself from deploy/k8s/ingress.yaml. After
each weight an analysis runs: error rate and p95 latency from Prometheus, the accuracy's upper bound on
delayed labels from a label-joining service; the last step also needs the non-inferiority test. A failed
check aborts the rollout: the weight goes back to 0. Install Argo Rollouts' CRDs before applying this file
(and point the HPA at the Rollout instead of the Deployment).""",
}
"""The comment at the top of each generated file; {steps} and {header} are filled in from the settings."""


def render(settings: CanarySettings, stable: str, candidate: str) -> dict[str, list[dict]]:
    """Return {file path under deploy/rollouts: resources} for both variants."""
    return {"nginx/canary.yaml": nginx_canary(settings, candidate),
            "argo/rollout.yaml": argo_rollout(settings, stable, candidate)}


def to_yaml(resources: list[dict], header: str) -> str:
    """Return resources as one YAML file with a comment header."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + yaml.safe_dump_all(resources, sort_keys=False, width=110)


def render_files(settings: CanarySettings, stable: str, candidate: str) -> dict[str, str]:
    """Return {file path under deploy/rollouts: YAML text}: what `write_manifests` writes."""
    facts = {"steps": " -> ".join(f"{w}%" for w in settings.steps), "header": settings.header}
    generated = "Generated by helpers.rollouts.manifests from the notebook's CanarySettings: do not edit by hand.\n"
    return {name: to_yaml(resources, generated + HEADERS[name].format(**facts))
            for name, resources in render(settings, stable, candidate).items()}


def write_manifests(settings: CanarySettings, stable: str, candidate: str, directory: Path | None = None) -> list[Path]:
    """Write both variants' YAML files under `directory` (default deploy/rollouts/); return their paths."""
    written = []
    for name, text in render_files(settings, stable, candidate).items():
        path = Path(directory or ROLLOUTS_DIR) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def schemas() -> dict[tuple[str, str], dict]:
    """Return the JSON schemas of Argo's kinds by (apiVersion, kind), from deploy/rollouts/schemas/."""
    found = {}
    for path in sorted(SCHEMAS_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        found[(schema["x-api-version"], schema["x-kind"])] = schema
    return found


def validate(source: object) -> list[str]:
    """Return every error of a set of resources (empty when valid): Kubernetes' strict schemas for built-in
    kinds, deploy/rollouts/schemas/ for Argo's."""
    import_jsonschema()  # first: a plain `import jsonschema` also compiles grammars it never needs here (~3 s)
    import jsonschema

    docs = [doc for _, doc in iter_sources(source)]
    custom = schemas()
    mine = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in custom]
    errors = [str(e) for e in validate_manifests([d for d in docs if not any(d is m for m in mine)])]
    for doc in mine:
        validator = jsonschema.Draft202012Validator(custom[(doc["apiVersion"], doc["kind"])])
        name = (doc.get("metadata") or {}).get("name", "?")
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            errors.append(f"{doc['kind']}/{name}: {field_path(error.absolute_path) or '(document)'}: {error.message}")
    return errors


def main() -> None:
    """`python -m helpers.rollouts.manifests`: regenerate deploy/rollouts/ from the default CanarySettings."""
    for path in write_manifests(CanarySettings(), "1.0.0", "1.0.1"):
        print(f"wrote {paths.relative(path)}")


if __name__ == "__main__":
    main()
