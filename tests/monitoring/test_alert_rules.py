"""deploy/monitoring/alert_rules.yml: well-formed Prometheus rules that say what helpers.monitoring says."""

from __future__ import annotations

import re

import pytest
import yaml

from helpers.common import paths
from helpers.common.schema import FEATURES
from helpers.monitoring import alerts as al
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING

RULES_FILE = paths.DEPLOY_DIR / "monitoring" / "alert_rules.yml"
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                   "offset"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


@pytest.fixture(scope="module")
def rules() -> dict[str, dict]:
    document = yaml.safe_load(RULES_FILE.read_text())
    found: dict[str, dict] = {}
    for group in document["groups"]:
        assert group["name"] and group["rules"], "every group needs a name and at least one rule"
        for rule in group["rules"]:
            assert rule["alert"] not in found, f"duplicate alert name {rule['alert']}"
            found[rule["alert"]] = rule
    return found


def metric_names(expr: str) -> set[str]:
    """Return the series names a PromQL expression reads (label matchers, ranges, functions, keywords removed)."""
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    return names - PROMQL_KEYWORDS


def test_every_rule_is_complete(rules) -> None:
    for name, rule in rules.items():
        assert set(rule) >= {"alert", "expr", "for", "labels", "annotations"}, name
        assert DURATION.match(str(rule["for"])), f"{name}: `for` must be a Prometheus duration"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"].strip() and rule["annotations"]["description"].strip(), name
        assert rule["expr"].count("(") == rule["expr"].count(")"), name


def test_rules_are_the_ones_the_notebook_evaluates(rules) -> None:
    expected = {
        al.RULE_DRIFT_WARNING: "WARNING",
        al.RULE_DRIFT_ALERT: "ALERT",
        al.RULE_ACCURACY: "ALERT",
        al.RULE_LATENCY: "WARNING",
    }
    assert set(rules) == set(expected)
    for name, severity in expected.items():
        assert rules[name]["labels"]["severity"] == al.PROMETHEUS_SEVERITY[severity], name


def test_drift_thresholds_and_two_day_duration_match_the_helpers(rules) -> None:
    for name, threshold in ((al.RULE_DRIFT_WARNING, PSI_WARNING), (al.RULE_DRIFT_ALERT, PSI_ALERT)):
        match = re.fullmatch(r"\s*model_feature_psi\s*>=\s*([0-9.]+)\s*", rules[name]["expr"])
        assert match, f"{name}: expected `model_feature_psi >= <threshold>`, got {rules[name]['expr']!r}"
        assert float(match.group(1)) == threshold
        assert rules[name]["for"] == "2d"


def test_accuracy_rule_uses_the_baseline_and_margin(rules) -> None:
    expr = rules[al.RULE_ACCURACY]["expr"]
    match = re.fullmatch(r"\s*model_accuracy\s*<\s*model_baseline_accuracy\s*-\s*([0-9.]+)\s*", expr)
    assert match, expr
    assert float(match.group(1)) == al.ACCURACY_MARGIN


def test_latency_rule_compares_p95_of_predict_with_the_baseline(rules) -> None:
    expr = " ".join(rules[al.RULE_LATENCY]["expr"].split())
    assert expr.startswith("histogram_quantile(0.95, ")
    assert 'rate(http_request_duration_seconds_bucket{endpoint="/predict"}[5m])' in expr
    assert "by (le)" in expr
    match = re.search(r">\s*([0-9.]+)\s*\*\s*max\(model_baseline_p95_seconds\)", expr)
    assert match, expr
    assert float(match.group(1)) == pytest.approx(1 + al.LATENCY_INCREASE)


def test_metrics_read_by_rules_lists_exactly_what_the_rules_read(rules) -> None:
    read = set().union(*(metric_names(rule["expr"]) for rule in rules.values()))
    assert read == set(al.METRICS_READ_BY_RULES)


def test_metric_name_extraction_ignores_functions_labels_and_keywords() -> None:
    expr = 'sum by (le) (rate(a_b_bucket{endpoint="/x", le="0.1"}[5m])) > on() 2 * max(c_seconds) and d'
    assert metric_names(expr) == {"a_b_bucket", "c_seconds", "d"}


def test_the_api_exposes_every_series_the_rules_read(bundle_dir) -> None:
    """Rules over series the API never exposes would stay silent forever: every one must be in /metrics."""
    from fastapi.testclient import TestClient

    from helpers.api.app import create_app
    from helpers.data import split_dataset

    split = split_dataset()
    with TestClient(create_app(model_dir=bundle_dir)) as client:
        answer = client.post("/predict_batch", json={"rows": split.X_val[:50].tolist()}).json()
        client.post("/feedback", json={"request_id": answer["request_id"], "labels": split.y_val[:50].tolist()})
        client.post("/predict", json={"features": split.X_val[0].tolist()})
        text = client.get("/metrics").text
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert set(al.METRICS_READ_BY_RULES) <= exposed
    assert 'http_request_duration_seconds_bucket{endpoint="/predict",le=' in text
    assert all(f'model_feature_psi{{feature="{f}"}}' in text for f in FEATURES)
