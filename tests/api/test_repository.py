"""helpers.api.repository: bundles by name and version, defaults from repository.json, routes checked against the
versions served, per-model metrics, the shadow log, and the one-model view of a plain API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from helpers.api.repository import (
    REPOSITORY_FILE,
    ModelMetrics,
    ShadowEntry,
    UnknownModel,
    load_repository,
    single_model_repository,
    version_key,
)
from helpers.api.state import load_serving_model
from helpers.packaging import METADATA_FILE
from helpers.rollouts.router import Route


def add_version(bundle_dir: Path, root: Path, name: str, version: str) -> Path:
    """Copy the test bundle to <root>/<name>/<version>/ with that version on its card."""
    folder = root / name / version
    shutil.copytree(bundle_dir, folder)
    card = json.loads((folder / METADATA_FILE).read_text())
    (folder / METADATA_FILE).write_text(json.dumps({**card, "version": version}))
    return folder


@pytest.fixture(scope="module")
def root(bundle_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repository")
    for name, version in (("clf", "1.0.0"), ("clf", "1.0.10"), ("clf", "1.0.9"), ("other", "2.0.0")):
        add_version(bundle_dir, root, name, version)
    return root


def metrics() -> ModelMetrics:
    return ModelMetrics(CollectorRegistry())


def test_versions_sort_as_numbers_and_the_highest_is_the_default_without_an_index(root) -> None:
    assert sorted(["1.0.10", "1.0.9", "1.0.0", "beta"], key=version_key) == ["1.0.0", "1.0.9", "1.0.10", "beta"]
    repo = load_repository(root, "onnx", metrics())
    assert repo.names() == ["clf", "other"]
    assert repo.versions("clf") == ["1.0.0", "1.0.9", "1.0.10"]
    assert repo.routes["clf"].stable == "1.0.10" and repo.model("clf").version == "1.0.10"
    assert repo.model("clf", "1.0.9").version == "1.0.9"


def test_repository_json_names_the_default_and_a_missing_default_is_refused(root, tmp_path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(root, copy)
    (copy / REPOSITORY_FILE).write_text(json.dumps({"models": {"clf": {"default": "1.0.9"}}}))
    assert load_repository(copy, "onnx", metrics()).routes["clf"].stable == "1.0.9"
    (copy / REPOSITORY_FILE).write_text(json.dumps({"models": {"clf": {"default": "3.0.0"}}}))
    with pytest.raises(ValueError, match="default version 3.0.0 of clf"):
        load_repository(copy, "onnx", metrics())


def test_a_folder_that_disagrees_with_its_card_or_an_empty_folder_is_refused(bundle_dir, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        load_repository(tmp_path, "onnx", metrics())
    folder = add_version(bundle_dir, tmp_path, "clf", "1.0.0")
    folder.rename(folder.with_name("1.0.1"))
    with pytest.raises(ValueError, match="the card says version 1.0.0"):
        load_repository(tmp_path, "onnx", metrics())


def test_unknown_names_and_versions_say_what_is_served(root) -> None:
    repo = load_repository(root, "onnx", metrics())
    with pytest.raises(UnknownModel, match="unknown model 'nope': this server serves clf, other"):
        repo.model("nope")
    with pytest.raises(UnknownModel, match=r"no version '9' \(its versions: 1.0.0, 1.0.9, 1.0.10\)"):
        repo.model("clf", "9")


def test_a_route_may_only_name_served_versions_and_sets_the_weight_gauge(root) -> None:
    registry = CollectorRegistry()
    repo = load_repository(root, "onnx", ModelMetrics(registry))
    assert 'rollout_canary_weight{model="clf"} 0.0' in generate_latest(registry).decode()
    with pytest.raises(UnknownModel):
        repo.set_route("clf", Route("1.0.0", canary="7.7.7", weight=10))
    assert repo.routes["clf"].stable == "1.0.10", "a refused route leaves the old one"
    repo.set_route("clf", Route("1.0.0", canary="1.0.9", weight=25, shadow="1.0.10"))
    assert repo.routes["clf"] == Route("1.0.0", canary="1.0.9", weight=25, shadow="1.0.10")
    assert 'rollout_canary_weight{model="clf"} 25.0' in generate_latest(registry).decode()


def test_metrics_count_and_time_per_model_and_version_and_the_shadow_log(root) -> None:
    registry = CollectorRegistry()
    repo = load_repository(root, "onnx", ModelMetrics(registry))
    repo.metrics.observe("clf", "1.0.9", 200, 0.003, [1, 0, 1])
    repo.metrics.observe("clf", "1.0.9", 500, 0.001, [])
    repo.log_shadow("clf", ShadowEntry("r1", "1.0.9", [1], "1.0.10", [0]))
    text = generate_latest(registry).decode()
    assert 'inference_requests_total{code="200",model="clf",version="1.0.9"} 1.0' in text
    assert 'inference_requests_total{code="500",model="clf",version="1.0.9"} 1.0' in text
    assert 'inference_rows_total{model="clf",predicted_class="1",version="1.0.9"} 2.0' in text
    assert 'inference_duration_seconds_count{model="clf",version="1.0.9"} 2.0' in text
    assert 'shadow_inferences_total{model="clf",version="1.0.10"} 1.0' in text
    assert [e.as_dict() for e in repo.shadow_log["clf"]] == [
        {"id": "r1", "primary_version": "1.0.9", "primary": [1], "shadow_version": "1.0.10", "shadow": [0]}]


def test_a_plain_api_model_is_a_repository_of_one(bundle_dir) -> None:
    model = load_serving_model(bundle_dir, "onnx")
    repo = single_model_repository(model, metrics())
    assert repo.names() == ["course-classifier"] and repo.versions("course-classifier") == ["1.0.0"]
    assert repo.model("course-classifier") is model
