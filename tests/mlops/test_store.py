"""helpers.mlops.store: a local SQLite store reset from a migrated template, a server never reset, a dead one fast."""

from __future__ import annotations

import shutil
import time

import mlflow
import pytest

from helpers.common import paths
from helpers.mlops import store


def test_the_store_lives_in_the_state_folder_never_the_cwd(mlops_state) -> None:
    db = (mlops_state.mlflow_dir / store.DB_FILE).resolve()
    assert mlops_state.uri == f"sqlite:///{db.as_posix()}"
    assert mlflow.get_tracking_uri() == mlops_state.uri == mlflow.get_registry_uri()
    experiment = store.client().get_experiment(store.experiment_id("a-test-experiment"))
    assert experiment.artifact_location == (mlops_state.mlflow_dir / "models" / "a-test-experiment").resolve().as_uri()


def test_the_default_store_is_local_unless_the_environment_names_one(mlops_state, monkeypatch) -> None:
    monkeypatch.chdir(paths.ROOT / "notebooks")
    local = store.resolve_store()
    assert local.local and local.db == (paths.MLFLOW_DIR / store.DB_FILE).resolve()
    assert local.artifacts == (paths.MLFLOW_DIR / store.ARTIFACTS_SUBDIR).resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert store.resolve_store() == store.Store(uri="http://tracking.example:5000", local=False)


def test_reset_copies_the_migrated_template_and_empties_the_store(mlops_state, monkeypatch) -> None:
    client = store.client()  # a client opened before the reset must see the empty store after it
    store.experiment_id("to-be-wiped")
    (mlops_state.store.artifacts / "a-model-file").write_text("x")
    template = mlops_state.store.template
    stamp = template.stat().st_mtime_ns

    def no_migrations(local: store.Store) -> None:
        raise AssertionError("reset ran MLflow's migrations again instead of copying the template")

    monkeypatch.setattr(store, "make_template", no_migrations)
    started = time.perf_counter()
    store.configure(reset=True)
    elapsed = time.perf_counter() - started
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert client.search_registered_models() == []
    assert list(mlops_state.store.artifacts.iterdir()) == []
    assert store.experiment_id() == "1", "a rerun after a reset gets the same experiment ids"
    assert template.stat().st_mtime_ns == stamp
    assert elapsed < 5, f"a reset copies a file; it took {elapsed:.1f} s"


def test_a_missing_template_is_made_once(mlops_state, mlflow_template, tmp_path, monkeypatch) -> None:
    calls = []

    def make_template(local: store.Store) -> None:  # the session's migrated template stands in for the migrations
        calls.append(local)
        local.template.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mlflow_template, local.template)

    monkeypatch.setattr(store, "make_template", make_template)
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")  # a machine that never made one
    try:
        store.configure(reset=True, directory=tmp_path)
        store.configure(reset=True, directory=tmp_path)
        assert len(calls) == 1 and store.local_store(tmp_path).template.parent == tmp_path / "cache"
        assert [e.name for e in store.client().search_experiments()] == ["Default"]
    finally:
        store.configure()  # back to the module's store


def test_configure_ends_a_run_an_interrupted_cell_left_open(mlops_state) -> None:
    run = mlflow.start_run(experiment_id=store.experiment_id())
    store.configure()
    assert mlflow.active_run() is None
    assert store.client().get_run(run.info.run_id).info.status == "KILLED"


def test_an_unreachable_tracking_server_fails_fast_naming_the_uri(mlops_state, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    started = time.perf_counter()
    with pytest.raises(store.TrackingError, match=r"server at http://127\.0\.0\.1:9 is not reachable"):
        store.configure()
    assert time.perf_counter() - started < 10
    assert mlflow.get_tracking_uri() == mlops_state.uri, "a failed configure leaves MLflow where it was"


def test_an_unreachable_tracking_database_names_the_uri_without_its_password(mlops_state) -> None:
    with pytest.raises(store.TrackingError, match=r"database at postgresql://\*\*\*@127\.0\.0\.1:9/runs") as err:
        store.configure(uri="postgresql://alice:s3cret@127.0.0.1:9/runs")
    assert "s3cret" not in str(err.value)


def test_a_server_store_is_never_reset(mlops_state, monkeypatch) -> None:
    store.experiment_id("kept")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(store.TrackingError, match=r"refusing to reset http://127\.0\.0\.1:9"):
        store.configure(reset=True)
    with pytest.raises(store.TrackingError, match="is never wiped") as err:
        store.configure(reset=True, uri="https://user:secret@mlflow.example.com")
    assert "secret" not in str(err.value)
    assert store.client().get_experiment_by_name("kept") is not None, "the local store was not touched either"


def test_redact_hides_credentials_only() -> None:
    assert store.redact("https://user:pw@host:5000/path") == "https://***@host:5000/path"
    assert store.redact("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
