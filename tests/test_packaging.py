"""helpers.packaging: every format round-trips, ONNX matches, tampering and bad input are refused clearly."""

from __future__ import annotations

import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import data, model, packaging


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("bundle")
    packaging.save_model_bundle(model.load_reference_model(), model.load_reference_metrics(), directory)
    return directory


@pytest.fixture(scope="module")
def test_set() -> tuple[np.ndarray, np.ndarray]:
    _, X_test, _, y_test = data.split_dataset()
    return X_test, y_test


@pytest.fixture
def copy_of(bundle, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


def test_bundle_holds_every_format_and_a_complete_card(bundle) -> None:
    card = json.loads((bundle / packaging.METADATA_FILE).read_text())
    assert sorted(p.name for p in bundle.iterdir()) == sorted([*packaging.FILES.values(), packaging.METADATA_FILE])
    for fmt, entry in card["artifacts"].items():
        path = bundle / packaging.FILES[fmt]
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == data.file_sha256(path)
    assert [f["name"] for f in card["features"]] == data.FEATURES
    assert all(f["min"] < f["max"] for f in card["features"])
    assert card["classes"] == [0, 1]
    assert card["training_data"]["sha256"] == data.file_sha256(packaging.paths.DATA_DIR / data.DATASET_CSV)
    assert {"python", "scikit-learn", "onnx"} <= set(card["versions"])
    assert card["onnx"]["input"] == "features"


@pytest.mark.parametrize("fmt", list(packaging.FILES))
def test_every_format_round_trips(bundle, test_set, fmt) -> None:
    X_test, _ = test_set
    reference = model.load_reference_model()
    predictor = packaging.load_model(bundle, fmt)
    assert predictor.predict_proba(X_test).shape == (600, 2)
    np.testing.assert_array_equal(predictor.predict(X_test), reference.predict(X_test))
    tolerance = 1e-5 if fmt == "onnx" else 0.0
    assert np.abs(predictor.predict_proba(X_test) - reference.predict_proba(X_test)).max() <= tolerance


@pytest.mark.parametrize("fmt", list(packaging.FILES))
def test_a_flipped_byte_is_refused(copy_of, fmt) -> None:
    path = copy_of / packaging.FILES[fmt]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(packaging.IntegrityError) as err:
        packaging.load_model(copy_of, fmt)
    message = str(err.value)
    assert path.name in message and err.value.expected in message and err.value.actual in message


def test_a_truncated_pickle_is_refused_before_unpickling(copy_of) -> None:
    path = copy_of / "model.pkl"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(packaging.IntegrityError):
        packaging.load_model(copy_of, "pickle")


def test_missing_bundle_or_file_names_the_path_and_the_fix(copy_of, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="03_packaging"):
        packaging.load_model(tmp_path / "nowhere")
    (copy_of / "model.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        packaging.load_model(copy_of, "onnx")
    (copy_of / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        packaging.load_model(copy_of, "pickle")


def test_unknown_format_is_named(bundle) -> None:
    with pytest.raises(ValueError, match="unknown format 'h5'"):
        packaging.load_model(bundle, "h5")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((3, 19)), "expected 20 features per row, received 19"),
        (np.array([["a"] * 20]), "expected numeric features"),
        (np.full((2, 20), np.nan), "expected finite values, received nan at row 0, feature_0"),
        (np.where(np.arange(20) == 7, np.inf, 0.0).reshape(1, 20), "received inf at row 0, feature_7"),
        (np.zeros((0, 20)), "at least one row"),
    ],
)
def test_bad_input_is_a_value_error_naming_expected_and_received(bundle, bad, message) -> None:
    predictor = packaging.load_model(bundle, "onnx")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        predictor.predict(bad)


def test_one_dimensional_row_is_accepted(bundle, test_set) -> None:
    predictor = packaging.load_model(bundle, "onnx")
    assert predictor.predict(test_set[0][0]).shape == (1,)


def test_another_sklearn_version_warns_naming_both(copy_of) -> None:
    card_path = copy_of / "metadata.json"
    card = json.loads(card_path.read_text())
    card["versions"]["scikit-learn"] = "0.24.2"
    card_path.write_text(json.dumps(card))
    with pytest.warns(packaging.VersionMismatchWarning, match=r"0\.24\.2.*this environment has 1\."):
        packaging.load_model(copy_of, "joblib")
    with pytest.raises(RuntimeError, match="0.24.2"):
        packaging.load_model(copy_of, "joblib", strict_versions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        packaging.load_model(copy_of, "onnx")  # ONNX does not depend on scikit-learn


class _Payload:
    """Stands in for an attacker's object: unpickling it would call print()."""

    def __reduce__(self):
        return (print, ("code ran",))


def test_skops_refuses_an_untrusted_type_by_name(copy_of) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    sneaky = FunctionTransformer(func=eval)  # a model whose "transform" would be eval()
    path = copy_of / "model.skops"
    sio.dump(sneaky, path)
    card_path = copy_of / "metadata.json"
    card = json.loads(card_path.read_text())
    card["artifacts"]["skops"]["sha256"] = data.file_sha256(path)
    card_path.write_text(json.dumps(card))
    with pytest.raises(packaging.UntrustedTypeError, match="builtins.eval"):
        packaging.load_model(copy_of, "skops")


def test_a_pickle_can_run_code_which_is_why_we_hash(copy_of, capsys) -> None:
    pickle.loads(pickle.dumps(_Payload()))  # noqa: S301 - the point of the test
    assert "code ran" in capsys.readouterr().out
    (copy_of / "model.pkl").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(packaging.IntegrityError):
        packaging.load_model(copy_of, "pickle")
    assert "code ran" not in capsys.readouterr().out


def test_ensure_model_bundle_rebuilds_a_missing_bundle(tmp_path) -> None:
    target = tmp_path / "model"
    assert packaging.ensure_model_bundle(target) == target
    assert packaging.load_model(target).predict(np.zeros((1, 20))).shape == (1,)
