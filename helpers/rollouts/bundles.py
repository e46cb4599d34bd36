"""The model repository notebook A1 serves: the registry's scikit-learn versions as bundles, plus a broken one.

Laid out as the API's `--models` option reads it (helpers.api.repository): `<root>/course-classifier/<version>/`
holds metadata.json and model.onnx, and `<root>/repository.json` names the default version: the registry's
@production. Built once from the registry (notebook 05's workflow is replayed first if there is none), then reused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from helpers.common import paths
from helpers.packaging import METADATA_FILE, MODEL_NAME, bundle_is_complete

REPOSITORY_DIR: Path = paths.ARTIFACTS_DIR / "rollouts" / "repository"
SERVED: tuple[str, ...] = ("v1.0.0", "v1.1.0", "v2.0.0", "v1.0.1")
"""The registry's scikit-learn versions. v2.1.0 (XGBoost) is not served: it cannot be converted to ONNX here."""
NOT_SERVED = {"v2.1.0": "XGBoost: no ONNX converter for it in this environment, and the API serves ONNX"}
BROKEN = "v1.0.2"
"""The pipeline's bad candidate (trained on shuffled labels): notebook 05's gate stopped it, so it never entered
the registry. It is built here on purpose, as if a broken model had slipped past the gate, for a canary to catch."""
FORMATS = ("onnx",)


def version_dir(semver: str, root: Path | None = None) -> Path:
    """Return the folder of one version in the repository: <root>/course-classifier/1.0.1."""
    return Path(root or REPOSITORY_DIR) / MODEL_NAME / semver.lstrip("v")


def write_bundle(model: object, metrics: dict, semver: str, X_train: object, root: Path, extra: dict) -> Path:
    """Write one version's bundle beside its place, then move it in (a reader never sees half a bundle)."""
    from helpers.packaging import save_model_bundle

    target = version_dir(semver, root)
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    save_model_bundle(model, metrics, staging, version=semver.lstrip("v"), X_train=X_train, formats=FORMATS,
                      extra=extra)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def export_version(semver: str, root: Path | None = None) -> Path:
    """Export one registered version (by semantic version) as a bundle into the repository; return its folder."""
    import mlflow.sklearn

    from helpers.data import split_dataset
    from helpers.mlops import registry, store
    from helpers.model import Recipe

    version = registry.version_of(semver)
    mv = registry.model_version(version)
    run = store.client().get_run(mv.run_id)
    with store.quiet():
        model = mlflow.sklearn.load_model(f"models:/{store.REGISTERED_MODEL}/{version}")
    X_train, _ = Recipe(extra_rows=int(run.data.params.get("extra_rows", 0))).training_set(split_dataset())
    metrics = {k: v for k, v in run.data.metrics.items() if k in ("accuracy", "precision", "recall", "f1", "roc_auc")}
    registry_fact = {"model": store.REGISTERED_MODEL, "version": str(version), "semver": semver}
    return write_bundle(model, metrics, semver, X_train, Path(root or REPOSITORY_DIR), {"registry": registry_fact})


def build_broken(root: Path | None = None) -> Path:
    """Build the broken candidate (the pipeline's shuffled-label recipe) as a bundle; return its folder."""
    from helpers.data import split_dataset
    from helpers.mlops.pipeline import bad_candidate
    from helpers.model import evaluate

    split, recipe = split_dataset(), bad_candidate().recipe
    X_train, _ = recipe.training_set(split)
    model = recipe.fit(split)
    metrics = evaluate(model, split.X_val, split.y_val)
    return write_bundle(model, metrics, BROKEN, X_train, Path(root or REPOSITORY_DIR),
                        {"registry": None, "recipe": recipe.describe()})


def ensure_repository(root: Path | None = None) -> Path:
    """Return the repository folder, exporting what is missing (replaying notebook 05 first if needed)."""
    root = Path(root or REPOSITORY_DIR)
    index = root / "repository.json"
    missing = [v for v in SERVED if not bundle_is_complete(version_dir(v, root), FORMATS)]
    if missing or not index.is_file():
        from helpers.mlops import registry
        from helpers.mlops.course import ensure_course_workflow

        ensure_course_workflow()
        for semver in missing:
            export_version(semver, root)
        production = registry.model_version(registry.alias_version("production")).tags["semver"]
        index.write_text(json.dumps({"models": {MODEL_NAME: {"default": production.lstrip("v")}}}, indent=2) + "\n")
    if not bundle_is_complete(version_dir(BROKEN, root), FORMATS):
        build_broken(root)
    return root


def repository_table(root: Path | None = None) -> pd.DataFrame:
    """Return one row per bundle in the repository: version, algorithm, registry version, validation accuracy."""
    root = Path(root or REPOSITORY_DIR)
    default = json.loads((root / "repository.json").read_text())["models"][MODEL_NAME]["default"]
    rows = []
    for card_path in (root / MODEL_NAME).glob(f"*/{METADATA_FILE}"):
        card = json.loads(card_path.read_text())
        registered = card.get("registry") or {}
        rows.append({"version": card["version"], "algorithm": card["algorithm"],
                     "registry version": registered.get("version", "none"),
                     "validation accuracy": card["metrics"]["accuracy"],
                     "default": "yes" if card["version"] == default else ""})
    rows.sort(key=lambda row: tuple(int(part) for part in row["version"].split(".")))
    return pd.DataFrame(rows, columns=["version", "algorithm", "registry version", "validation accuracy", "default"])
