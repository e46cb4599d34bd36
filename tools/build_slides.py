"""Build reveal.js slides of every notebook into build/slides/, working offline.

Usage: python tools/build_slides.py
nbconvert's slide pages load reveal.js, require.js, jQuery and MathJax from CDNs. We fetch them once from the
npm registry (`npm pack`), unpack them beside the slides, and point nbconvert at the local copies, so the
slides open from disk with no network. Needs `npm` the first time only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from nbconvert import SlidesExporter
from traitlets.config import Config

from helpers.common.paths import course_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "slides"
VENDOR = OUT / "vendor"
PACKAGES = {"reveal.js": "reveal.js@4.6.0", "requirejs": "requirejs@2.3.8", "jquery": "jquery@3.7.1",
            "mathjax": "mathjax@2.7.7"}


def vendor() -> None:
    """Unpack the slide scripts into build/slides/vendor/ unless they are already there."""
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, spec in PACKAGES.items():
        target = VENDOR / name
        if target.exists():
            continue
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("npm is needed once to fetch reveal.js, require.js and jQuery for offline slides")
        tgz = subprocess.run([npm, "pack", spec, "--silent"], cwd=VENDOR, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        with tarfile.open(VENDOR / tgz) as archive:
            archive.extractall(VENDOR / f".{name}", filter="data")
        (VENDOR / f".{name}" / "package").rename(target)
        shutil.rmtree(VENDOR / f".{name}")
        (VENDOR / tgz).unlink()


def main() -> int:
    """Vendor the scripts, then export each notebook as slides; return the exit code."""
    vendor()
    config = Config()
    config.SlidesExporter.reveal_url_prefix = "vendor/reveal.js"
    config.SlidesExporter.require_js_url = "vendor/requirejs/require.js"
    config.SlidesExporter.jquery_url = "vendor/jquery/dist/jquery.min.js"
    config.SlidesExporter.mathjax_url = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    config.SlidesExporter.reveal_scroll = True
    config.SlidesExporter.template_file = str(ROOT / "tools" / "slides" / "offline.html.j2")
    exporter = SlidesExporter(config=config)
    for notebook in course_notebooks():
        body, _ = exporter.from_filename(str(notebook))
        remote = [url for url in ("https://unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr") if url in body]
        target = OUT / f"{notebook.stem}.slides.html"
        target.write_text(body)
        print(f"{target.relative_to(ROOT)}" + (f"  (still refers to {', '.join(remote)})" if remote else ""))
    print(f"open {OUT.relative_to(ROOT)}/01_dataset.slides.html in a browser (works offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
