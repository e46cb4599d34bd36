"""Kubernetes manifests checked offline: strict schemas of a pinned Kubernetes version, every error listed."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.common import paths

K8S_VERSION = "1.30"
"""The Kubernetes version the manifests are validated against (pinned, so results never drift)."""

Source = str | Path | dict | Iterable


@dataclass(frozen=True)
class ManifestError:
    """One schema error in one resource: where it came from, which resource, which field, what is wrong."""

    source: str
    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.path or '(document)'}: {self.message}"


def load_yaml_documents(path: str | Path) -> list[dict]:
    """Return every non-empty YAML document of a file, or of every *.yaml/*.yml file in a folder (sorted)."""
    return [doc for _, doc in documents_from_path(Path(path))]


def documents_from_path(path: Path) -> list[tuple[str, Any]]:
    """Return (source name, document) pairs from a YAML file or a folder of them."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no YAML file or folder at {path}")
    pairs = []
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            if doc:
                pairs.append((paths.relative(file), doc))
    return pairs


def iter_sources(paths_or_docs: Source) -> Iterator[tuple[str, Any]]:
    """Yield (source name, document) from a path, YAML text, a document, or a list mixing them."""
    if isinstance(paths_or_docs, dict):
        yield "<document>", paths_or_docs
    elif isinstance(paths_or_docs, str) and "\n" in paths_or_docs:
        for doc in yaml.safe_load_all(paths_or_docs):
            if doc:
                yield "<text>", doc
    elif isinstance(paths_or_docs, str | Path):
        yield from documents_from_path(Path(paths_or_docs))
    else:
        for item in paths_or_docs:
            yield from iter_sources(item)


def import_jsonschema() -> None:
    """Import jsonschema without its optional rfc3987_syntax add-on, which compiles 38 grammars on import (~3 s).

    That add-on only serves the "iri" format check, and schema validation here runs without a format checker.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # makes `import rfc3987_syntax` fail, so jsonschema skips it
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


def validate_manifests(paths_or_docs: Source, version: str = K8S_VERSION) -> list[ManifestError]:
    """Return every strict-schema error of every resource (empty when all are valid); unknown kinds are errors."""
    import_jsonschema()
    import kubernetes_validate

    errors: list[ManifestError] = []
    for source, doc in iter_sources(paths_or_docs):
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            errors.append(ManifestError(source, "?", "?", "", "not a Kubernetes resource (needs apiVersion and kind)"))
            continue
        kind, name = str(doc["kind"]), str((doc.get("metadata") or {}).get("name", "?"))
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(ManifestError(source, kind, name, "apiVersion",
                                        f"no schema for {kind} in {doc['apiVersion']} on Kubernetes {version}: "
                                        "unknown or removed apiVersion/kind"))
        except kubernetes_validate.ValidationError as first:
            # The library stops at the first error: list them all with the same schema.
            found = all_errors(doc, version) or [(field_path(first.absolute_path), first.message)]
            errors += [ManifestError(source, kind, name, path, message) for path, message in found]
    return errors


def all_errors(doc: dict, version: str) -> list[tuple[str, str]]:
    """Return (field path, message) for every strict-schema error of one resource, sorted by path."""
    import jsonschema

    found = set()
    for error in strict_validator(doc, version).iter_errors(doc):
        if error.context:  # anyOf/oneOf: the closest branch says most
            error = jsonschema.exceptions.best_match(error.context)
        base = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - known):
                found.add((field_path([*base, extra]), f"unknown field {extra!r}"))
            continue
        found.add((field_path(base), error.message))
    return sorted(found)


def strict_validator(doc: dict, version: str):
    """Return a jsonschema validator for the resource's strict schema, found as kubernetes_validate finds it."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version = version.removeprefix("v")
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    folder = f"kubernetes-json-schema/v{schema_version}-local-strict"
    schema = utils.schema_contents(f"{folder}/{doc['kind'].lower()}-{api_version}.json", version)
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def field_path(parts: Iterable) -> str:
    """Return a kubectl-style field path: spec.template.spec.containers[0].readinessProbe."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text

