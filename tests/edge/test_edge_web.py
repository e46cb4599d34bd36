"""The edge page: served on 127.0.0.1 with the right types, scored in headless Chromium offline, matching Python.

The browser tests need Debian's chromium and `make edge-assets`; they skip with the reason when one is missing,
unless EDGE_REQUIRE_BROWSER=1 (CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

import helpers
from helpers.edge import browser, server, web
from helpers.model import make_reference_model
from helpers.packaging import ONNX_INPUT, onnx_session, to_onnx_model

LOCK = json.loads((web.PAGE_DIR / "package-lock.json").read_text())


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` unless the environment says the browser check must run."""
    if condition:
        return
    if os.environ.get("EDGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"EDGE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def split():
    return helpers.split_dataset()


@pytest.fixture(scope="module")
def site(split, tmp_path_factory) -> tuple[Path, np.ndarray]:
    """Return a site with a small forest and the test rows, and onnxruntime's probabilities for those rows."""
    require(browser.find_chromium() is not None, "Chromium is not installed (apt-get install chromium)")
    require(not web.missing_assets(), f"onnxruntime-web files are missing: {web.HOW_TO_GET_ASSETS}")
    forest = make_reference_model(n_estimators=10, max_depth=6).fit(split.X_train, split.y_train)
    directory = tmp_path_factory.mktemp("edge") / "site"
    web.write_site(to_onnx_model(forest), split.X_test, split.y_test, "test forest", directory)
    expected = onnx_session(directory / "model.onnx").run(None, {ONNX_INPUT: split.X_test.astype(np.float32)})[1]
    return directory, expected


def test_requests_allowed_by_the_lock() -> None:
    assert browser.allowed("http://127.0.0.1:8765/ort/ort.wasm.min.js")
    assert browser.allowed("data:,")
    for url in ("http://localhost:8765/", "https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/ort.min.js",
                "http://127.0.0.2/", "http://127.0.0.1.nip.io/", "ws://127.0.0.1:8765/"):
        assert not browser.allowed(url), url


def test_the_server_sends_webassembly_as_webassembly(tmp_path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "a.mjs").write_text("export {}")
    with server.make_server(tmp_path, 0) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        types = {}
        for name in ("index.html", "a.wasm", "a.mjs"):
            with urllib.request.urlopen(f"{base}/{name}", timeout=5) as answer:  # noqa: S310
                types[name] = answer.headers["Content-Type"]
                assert answer.headers["Cache-Control"] == "no-store"
        httpd.shutdown()
    assert types == {"index.html": "text/html", "a.wasm": "application/wasm", "a.mjs": "text/javascript"}
    assert httpd.server_address[0] == "127.0.0.1"


def test_the_site_holds_the_page_the_runtime_the_model_and_float32_rows(split, tmp_path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    with pytest.raises(FileNotFoundError, match="make edge-assets"):
        web.write_site(b"onnx", split.X_test[:3], split.y_test[:3], "m", tmp_path / "site", assets)
    for name in web.ASSET_FILES:
        (assets / name).write_text(name)
    site = web.write_site(b"onnx", split.X_test[:3], split.y_test[:3], "m", tmp_path / "site", assets)
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == sorted(
        ["index.html", "app.js", "model.onnx", "rows.json", *(f"ort/{n}" for n in web.ASSET_FILES)])
    rows = json.loads((site / "rows.json").read_text())
    np.testing.assert_array_equal(np.asarray(rows["rows"], dtype=np.float32), split.X_test[:3].astype(np.float32))
    assert rows["labels"] == [int(v) for v in split.y_test[:3]] and rows["model"] == "m"
    page = (site / "index.html").read_text() + (site / "app.js").read_text()
    assert "wasmPaths" in page and "://" not in page.replace("window.location", "")


def test_the_pinned_runtime_is_onnxruntime_web_only() -> None:
    pinned = LOCK["packages"][""]["dependencies"]
    assert pinned == {"onnxruntime-web": LOCK["packages"]["node_modules/onnxruntime-web"]["version"]}
    assert all("resolved" not in entry or "registry" in entry["resolved"] for entry in LOCK["packages"].values())


def test_the_page_scores_the_test_rows_offline_like_onnxruntime(site, split) -> None:
    directory, expected = site
    with web.page_server(directory) as page:
        probes = {"outside": "https://example.com/", "localhost": f"http://localhost:{page.port}/index.html?probe"}
        check = web.check_page(f"{page.url}/index.html", probes)
        log = page.log_path.read_text()
    assert check.result["rows"] == len(split.X_test)
    assert check.result["version"] == LOCK["packages"]["node_modules/onnxruntime-web"]["version"]
    assert np.abs(check.probabilities() - expected).max() <= 1e-5
    assert check.result["labels"] == expected.argmax(1).tolist()
    assert sorted(u.split("/", 3)[3] for u in check.allowed) == sorted(
        ["index.html", "app.js", "model.onnx", "rows.json", *(f"ort/{n}" for n in web.ASSET_FILES)])
    # The lock is what refused the probes: it recorded both, and the live local server never saw the second one.
    assert check.probes == {"outside": "refused (Failed to fetch)", "localhost": "refused (Failed to fetch)"}
    assert sorted(check.blocked) == sorted(probes.values())
    assert "?probe" not in log
    # Nothing of Chromium keeps running (a zombie has exited; it only waits to be reaped by a subreaper).
    assert not [p for p in psutil.Process().children(recursive=True)
                if "chrom" in p.name() and p.status() != psutil.STATUS_ZOMBIE]


def test_without_the_lock_the_same_probe_reaches_the_server(site) -> None:
    directory, _ = site
    with web.page_server(directory) as page:
        check = web.check_page(f"{page.url}/index.html", {"localhost": f"http://localhost:{page.port}/?unlocked"},
                               offline=False)
        log = page.log_path.read_text()
    assert check.probes == {"localhost": "answered"} and check.blocked == []
    assert "?unlocked" in log
