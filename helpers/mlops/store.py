"""Where MLflow keeps runs and models: the course's local SQLite store (artifacts/mlflow/), or a server you choose.

`configure()` must run before MLflow is used (every helper in this package calls it): it sets MLflow's quiet,
offline settings, imports MLflow, and points tracking and registry at the store. Set `MLFLOW_TRACKING_URI` to
use a tracking server instead; the course never resets a store it does not own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helpers.common import paths

EXPERIMENT = "model-deployment"
REGISTERED_MODEL = "course-classifier"
DB_FILE = "mlflow.db"
ARTIFACTS_SUBDIR = "models"
REACH_TIMEOUT = 3.0
"""Seconds a tracking server gets to answer before it is called unreachable (MLflow's own retries take minutes)."""

# MLflow reads these when it is imported and when it logs; a value the user already set wins.
MLFLOW_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # never send usage data: the course runs offline
    "DO_NOT_TRACK": "true",  # the cross-tool spelling of the same wish
    "MLFLOW_LOGGING_LEVEL": "ERROR",  # no timestamped INFO/WARNING lines in notebook outputs
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # no tqdm bars while artifacts are copied
    "TQDM_DISABLE": "1",  # no tqdm bars from anything else either
    "GIT_PYTHON_REFRESH": "quiet",  # MLflow asks git for the source commit; no warning when git is missing
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # no "View run at http://..." lines after each run
    "MLFLOW_LOCK_MODEL_DEPENDENCIES": "false",  # never call `uv` (it would reach the network) to lock requirements
    "MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK": "true",  # never run `pip install --dry-run` (it would reach it too)
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",  # a dead server fails in seconds, not after minutes of retries
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",  # seconds per HTTP request to a tracking server
}
NOISY_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git", "skops")
# Python warnings MLflow raises while inferring signatures, matched by the start of their message.
KNOWN_WARNINGS = (r"Hint: Inferred schema contains integer column", r"Failed to infer signature from type hint")


class TrackingError(RuntimeError):
    """Raised when the tracking store or the registry cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class Store:
    """Where MLflow keeps runs and models: the course's local SQLite store, or an external tracking URI."""

    uri: str
    local: bool
    db: Path | None = None
    artifacts: Path | None = None
    template: Path | None = None


_active: Store | None = None


def quiet_loggers() -> None:
    """Set MLflow's and its dependencies' loggers to ERROR (MLflow resets its own when imported)."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def import_mlflow() -> Any:
    """Return the mlflow module, imported with the course's quiet, offline settings in place."""
    for key, value in MLFLOW_ENV.items():
        os.environ.setdefault(key, value)
    quiet_loggers()
    import mlflow

    quiet_loggers()
    return mlflow


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence MLflow's event stream and its known warnings for the duration of a block."""
    from mlflow.utils import logging_utils

    was_enabled = logging_utils.MLFLOW_LOGGING_STREAM.enabled
    logging_utils.disable_logging()  # MLflow prints "Registered model ..." lines through this stream
    try:
        with warnings.catch_warnings():
            for message in KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            # What MLflow's own modules warn about while we drive them says nothing about the models.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow\.")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(mlflow|sqlalchemy|alembic)\.")
            yield
    finally:
        logging_utils.MLFLOW_LOGGING_STREAM.enabled = was_enabled


def local_store(directory: Path | None = None) -> Store:
    """Return the course's local store rooted at `directory` (default: artifacts/mlflow/)."""
    import mlflow

    folder = Path(directory or paths.MLFLOW_DIR).resolve()
    db = folder / DB_FILE
    template = paths.CACHE_DIR / f"mlflow-{mlflow.__version__}-empty.db"  # a new MLflow version migrates anew
    return Store(uri=f"sqlite:///{db.as_posix()}", local=True, db=db, artifacts=folder / ARTIFACTS_SUBDIR,
                 template=template)


def resolve_store(directory: Path | None = None, uri: str | None = None) -> Store:
    """Return the store to use: `uri`, else the local one in `directory`, else $MLFLOW_TRACKING_URI, else the local."""
    import_mlflow()
    if uri is None and directory is None:
        env_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        # MLflow copies the URI we set into the environment; only a value the user set counts.
        if env_uri and not (_active is not None and env_uri == _active.uri):
            uri = env_uri
    default = local_store(directory)
    return default if uri is None or uri == default.uri else Store(uri=uri, local=False)


def redact(uri: str) -> str:
    """Return `uri` without a user name or password, for messages."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        netloc = f"***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return uri


def check_reachable(uri: str, timeout: float = REACH_TIMEOUT) -> None:
    """Return if a server-based tracking URI answers within `timeout` seconds; raise TrackingError otherwise.

    An http(s) server must answer a cheap MLflow API request (401/403 count: it is there, it wants credentials);
    a database server must accept a TCP connection.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]
    hint = "Start the server, or unset MLFLOW_TRACKING_URI to use the local store under artifacts/mlflow/."
    if scheme in ("http", "https"):
        import requests

        probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
        try:
            status = requests.get(probe, timeout=timeout).status_code
        except requests.RequestException as exc:
            raise TrackingError(f"the MLflow tracking server at {redact(uri)} is not reachable "
                                f"({type(exc).__name__}, waited at most {timeout:g} s). {hint}") from None
        if status not in (200, 401, 403):
            raise TrackingError(f"{redact(uri)} answered HTTP {status} to an MLflow API request: it does not "
                                f"look like an MLflow tracking server. {hint}")
        return
    default_ports = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
    if scheme not in default_ports or not parts.hostname:
        return
    try:
        with socket.create_connection((parts.hostname, parts.port or default_ports[scheme]), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise TrackingError(f"the tracking database at {redact(uri)} is not reachable ({reason}, waited at most "
                            f"{timeout:g} s). {hint}") from None


def make_template(store: Store) -> None:
    """Create the store's template: an empty database with MLflow's migrations applied (about a second, once)."""
    assert store.template is not None and store.artifacts is not None
    with warnings.catch_warnings():  # importing MLflow's SQL store trips a SQLAlchemy deprecation: not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    store.template.parent.mkdir(parents=True, exist_ok=True)
    partial = store.template.with_name(f"{store.template.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    with quiet():
        SqlAlchemyStore(f"sqlite:///{partial.as_posix()}", store.artifacts.as_uri()).engine.dispose()
    os.replace(partial, store.template)  # atomic: an interrupted migration never leaves a half-made template


def restore_template(store: Store) -> None:
    """Make the store's database a copy of the migrated empty template (made first if missing)."""
    assert store.db is not None and store.template is not None
    if not store.template.exists():
        make_template(store)
    # SQLite's backup API writes the template's pages into the database file in place: a connection MLflow still
    # holds sees the fresh content, where deleting and copying the file would leave it writing to the deleted one.
    store.db.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"{store.template.as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(store.db)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def configure(reset: bool = False, *, directory: Path | None = None, uri: str | None = None) -> str:
    """Point MLflow's tracking and registry at the store (see `resolve_store`); return its URI.

    `reset=True` empties the local store (database and model files) and starts again from a migrated empty
    database, so a rerun gets the same experiment ids and version numbers. A server is never reset.
    """
    global _active
    mlflow = import_mlflow()
    store = resolve_store(directory, uri)
    if mlflow.active_run() is not None:  # a run left open by an interrupted cell would swallow the next runs
        with quiet():
            mlflow.end_run(status="KILLED")
    if store.local:
        assert store.db is not None and store.artifacts is not None
        if reset:
            shutil.rmtree(store.artifacts, ignore_errors=True)
        if reset or not store.db.exists():
            restore_template(store)
        store.artifacts.mkdir(parents=True, exist_ok=True)
    elif reset:
        raise TrackingError(
            f"refusing to reset {redact(store.uri)}: only the course's own local store is ever wiped; a tracking "
            "server or a database you chose is never wiped. Unset MLFLOW_TRACKING_URI to work on the local store, "
            "or log into a fresh experiment name.")
    else:
        check_reachable(store.uri)
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)
    _active = store
    return store.uri


def active_store() -> Store:
    """Return the store in use, configuring the default one first if nothing was configured yet."""
    if _active is None:
        configure()
    assert _active is not None
    return _active


def client() -> Any:
    """Return an MlflowClient on the store in use."""
    store = active_store()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def experiment_id(name: str = EXPERIMENT) -> str:
    """Return the id of experiment `name`, creating it (with its model files under the store's folder) if needed."""
    store = active_store()
    mlflow_client = client()
    with quiet():
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = (store.artifacts / name).as_uri() if store.local and store.artifacts else None
        return mlflow_client.create_experiment(name, artifact_location=location)
