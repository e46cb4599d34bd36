"""helpers.mlops.security: what a pickle would import, found without running it; bandit's findings counted."""

from __future__ import annotations

import pickle
from pathlib import Path

from helpers.mlops import security


class Payload:
    """A pickle that would run code when loaded."""

    def __reduce__(self):
        return (exec, ("raise SystemExit('the scan ran the payload')",))


def test_the_scan_names_an_unexpected_import_without_running_it(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Payload()))
    assert security.pickle_imports(path) == ["builtins.exec"]  # SystemExit would have ended the test
    assert security.unsafe_imports(path) == ["builtins.exec"]


def test_a_fitted_forest_imports_only_scikit_learn_and_numpy(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier  # here, not at the top: the pipeline collects this file

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RandomForestClassifier(n_estimators=2, random_state=0).fit([[0], [1]], [0, 1])))
    imports = security.pickle_imports(path)
    assert any(name.startswith("sklearn.ensemble") for name in imports)
    assert security.unsafe_imports(path) == []


def test_bandit_reports_a_medium_finding_and_counts_files(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text("VALUE = 1\n")
    assert security.bandit_findings(tmp_path) == (1, [])
    (tmp_path / "risky.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    scanned, findings = security.bandit_findings(tmp_path)
    assert scanned == 2 and [f["test_id"] for f in findings] == ["B602"]
