"""Notebook A2: the edge page (static HTML + onnxruntime-web) assembled, served on 127.0.0.1 and checked offline.

The page's own files live in deploy/edge/web/; onnxruntime-web comes from the npm registry through
`make edge-assets` (into build/edge/ort/), never from a CDN. `write_site` puts both next to a model and the rows
to score; `check_page` opens the page in headless Chromium with the network locked and returns what it computed.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers.common import paths
from helpers.common.processes import BackgroundServer
from helpers.common.schema import FEATURES

PAGE_DIR = paths.DEPLOY_DIR / "edge" / "web"
PAGE_FILES: tuple[str, ...] = ("index.html", "app.js")
ASSETS_DIR = paths.BUILD_DIR / "edge" / "ort"
"""Where `make edge-assets` puts the three files of onnxruntime-web the page loads."""
ASSET_FILES: tuple[str, ...] = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
SITE_DIR = paths.ARTIFACTS_DIR / "edge" / "site"
PROBE = "fetch(URL, {mode: 'no-cors'}).then(() => 'answered', e => 'refused (' + e.message + ')')"
"""JavaScript the page runs to try a request: 'answered' if any server answered, else why not."""
HOW_TO_GET_ASSETS = "run `make edge-assets` once (it installs onnxruntime-web from the npm registry into build/edge/)"


@dataclass(frozen=True)
class PageCheck:
    """What the page computed in headless Chromium, and every request it made, allowed or refused."""

    result: dict[str, Any]
    allowed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)

    def probabilities(self) -> np.ndarray:
        """Return the (n, 2) class probabilities the page computed."""
        if "error" in self.result:
            raise RuntimeError(f"the page failed: {self.result['error']}")
        return np.asarray(self.result["probabilities"], dtype=np.float64).reshape(-1, 2)


def missing_assets(directory: Path = ASSETS_DIR) -> list[str]:
    """Return the onnxruntime-web files missing from `directory` (empty when the page can run)."""
    return [name for name in ASSET_FILES if not (directory / name).is_file()]


def write_site(onnx_model: bytes, X: np.ndarray, y: np.ndarray, model_name: str,
               directory: Path = SITE_DIR, assets: Path = ASSETS_DIR) -> Path:
    """Write the page, onnxruntime-web, the model and the rows to score (as float32) into `directory`."""
    missing = missing_assets(assets)
    if missing:
        raise FileNotFoundError(f"onnxruntime-web files missing ({', '.join(missing)}): {HOW_TO_GET_ASSETS}")
    directory = Path(directory)
    (directory / "ort").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(PAGE_DIR / name, directory / name)
    for name in ASSET_FILES:
        target = directory / "ort" / name
        if not target.is_file() or target.stat().st_size != (assets / name).stat().st_size:
            shutil.copyfile(assets / name, target)
    (directory / "model.onnx").write_bytes(onnx_model)
    rows = {"model": model_name, "features": list(FEATURES),
            "rows": np.asarray(X, dtype=np.float32).tolist(), "labels": [int(v) for v in y]}
    (directory / "rows.json").write_text(json.dumps(rows))
    return directory


def ensure_demo_site(directory: Path = SITE_DIR) -> Path:
    """Return the site folder, writing it from the reference forest and the test rows if it has no model yet."""
    directory = Path(directory)
    if (directory / "model.onnx").is_file() and (directory / "rows.json").is_file():
        name = json.loads((directory / "rows.json").read_text())["model"]
        print(f"the page scores: {name} (written by notebook A2)", flush=True)
        return directory
    from helpers.data import split_dataset
    from helpers.model import ensure_reference_model
    from helpers.packaging import to_onnx_model

    split = split_dataset()
    print("no model on the page yet: exporting the reference forest (run notebook A2 to choose a smaller one)")
    return write_site(to_onnx_model(ensure_reference_model()), split.X_test, split.y_test,
                      "the reference forest (100 trees)", directory)


def page_server(directory: Path = SITE_DIR) -> BackgroundServer:
    """Return a (not yet started) static server for the site on a free 127.0.0.1 port; use it with `with`."""
    return BackgroundServer([sys.executable, "-m", "helpers.edge.server", "--port", "{port}",
                             "--directory", str(directory)], name="edge-page", ready_path="/index.html")


def check_page(url: str, probes: dict[str, str] | None = None, *, offline: bool = True,
               timeout: float = 60.0) -> PageCheck:
    """Open `url` in headless Chromium (network locked unless `offline` is False), wait for the page's scores.

    `probes` maps a label to a URL the page then tries to fetch (cross-origin allowed, the answer unread): each
    answer says 'answered' if a server answered, 'refused (...)' if the request never got out.
    """
    from helpers.edge.browser import BrowserError, Chromium, find_chromium

    executable = find_chromium()
    if executable is None:
        raise BrowserError("no Chromium found: apt-get install chromium")
    with Chromium(executable, timeout=timeout, offline=offline) as browser:
        browser.open(url)
        result = browser.evaluate("window.edgeDone")
        answers = {label: browser.evaluate(PROBE.replace("URL", json.dumps(target)))
                   for label, target in (probes or {}).items()}
        return PageCheck(result, list(browser.allowed_requests), list(browser.blocked), answers)
