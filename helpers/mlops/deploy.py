"""Deployment: the bundle of the registry's @production version, installed where the API serves it from.

Notebook 05's pipeline installs it (artifacts/production/); notebooks 06-08 serve and monitor it. A notebook
opened cold asks `ensure_production_bundle()`, which replays notebook 05's workflow first if there is no registry.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from helpers.common import paths
from helpers.mlops import registry, store
from helpers.packaging import METADATA_FILE, SERVING_FORMATS, bundle_is_complete


def install_production_bundle(bundle: Path, version: str, directory: Path | None = None) -> Path:
    """Copy a bundle to the production folder, its card naming the registry version; return the folder.

    The copy is made beside the folder and renamed over it, so a reader never sees half a bundle.
    """
    directory = Path(directory or paths.PRODUCTION_DIR)
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(bundle, staging)
        card = json.loads((staging / METADATA_FILE).read_text())
        card["registry"] = {"model": store.REGISTERED_MODEL, "version": str(version), "alias": "production"}
        (staging / METADATA_FILE).write_text(json.dumps(card, indent=2) + "\n")
    except BaseException:  # a bundle without a readable card never replaces the installed one
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = directory.with_name(f".{directory.name}.{os.getpid()}.old")
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def export_production(directory: Path | None = None) -> Path:
    """Write the registry's @production version as a serving bundle (ONNX and joblib) and install it; return it."""
    import mlflow.sklearn

    from helpers.data import split_dataset
    from helpers.model import Recipe
    from helpers.packaging import save_model_bundle

    version = registry.alias_version("production")
    if version is None:
        raise store.TrackingError(f"model {store.REGISTERED_MODEL!r} has no production version to export")
    mv = registry.model_version(version)
    run = store.client().get_run(mv.run_id)
    uri = f"models:/{store.REGISTERED_MODEL}/{version}"
    with store.quiet():
        if "sklearn" not in mlflow.models.get_model_info(uri).flavors:
            raise store.TrackingError(f"version {version} ({mv.tags.get('semver', '?')}) is not a scikit-learn model: "
                                      "the API serves scikit-learn models converted to ONNX")
        model = mlflow.sklearn.load_model(uri)
    recipe = Recipe(extra_rows=int(run.data.params.get("extra_rows", 0)))
    X_train, _ = recipe.training_set(split_dataset())
    metrics = {k: v for k, v in run.data.metrics.items() if k in ("accuracy", "precision", "recall", "f1", "roc_auc")}
    work = paths.PIPELINE_DIR / f"export-v{version}"
    save_model_bundle(model, metrics, work, version=mv.tags["semver"].lstrip("v"), X_train=X_train,
                      formats=SERVING_FORMATS)
    return install_production_bundle(work, version, directory)


def production_card(directory: Path | None = None) -> dict:
    """Return the model card of the installed production bundle; FileNotFoundError says how to create it."""
    path = Path(directory or paths.PRODUCTION_DIR) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no production bundle at {paths.relative(path.parent)}: run notebook 05 or "
                                "call helpers.mlops.deploy.ensure_production_bundle()")
    return json.loads(path.read_text())


def ensure_production_bundle(directory: Path | None = None) -> Path:
    """Return the production bundle folder; if missing, replay notebook 05's workflow (and export) first."""
    directory = Path(directory or paths.PRODUCTION_DIR)
    if bundle_is_complete(directory, SERVING_FORMATS):
        return directory
    from helpers.mlops.course import ensure_course_workflow

    ensure_course_workflow()
    return directory if bundle_is_complete(directory, SERVING_FORMATS) else export_production(directory)
