"""helpers.packaging (03): every format round-trips, ONNX matches, tampering and bad input are refused clearly."""

from __future__ import annotations

import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import data, model, packaging
from helpers.common.hashing import file_sha256
from helpers.common.schema import FEATURES


@pytest.fixture(scope="module")
def split() -> data.Split:
    return data.split_dataset()


@pytest.fixture(scope="module")
def reference():
    return model.ensure_reference_model()


@pytest.fixture
def copy_of(bundle_dir, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(bundle_dir, target)
    return target


def rewrite_card(directory: Path, change) -> None:
    path = directory / packaging.METADATA_FILE
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


def test_bundle_holds_every_format_and_a_complete_card(bundle_dir, split) -> None:
    card = json.loads((bundle_dir / packaging.METADATA_FILE).read_text())
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted([*packaging.FILES.values(), packaging.METADATA_FILE])
    for fmt, entry in card["artifacts"].items():
        path = bundle_dir / packaging.FILES[fmt]
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == file_sha256(path)
    assert [f["name"] for f in card["features"]] == FEATURES
    np.testing.assert_array_equal([f["min"] for f in card["features"]], split.X_train.min(axis=0))
    np.testing.assert_array_equal([f["max"] for f in card["features"]], split.X_train.max(axis=0))
    assert card["classes"] == [0, 1]
    assert card["version"] == "1.0.0"
    assert card["training_data"]["sha256"] == file_sha256(packaging.paths.DATA_DIR / data.DATASET_CSV)
    assert card["training_data"]["rows"] == len(split.y_train) == 1_000
    assert {"python", "scikit-learn", "onnx"} <= set(card["versions"])
    assert card["onnx"]["input"] == "features"
    assert sorted(card["monitoring_reference"]) == sorted(FEATURES)


def test_card_holds_validation_metrics_and_the_one_test_verdict(bundle_dir, reference, split) -> None:
    card = packaging.read_metadata(bundle_dir)
    validation = model.evaluate(reference, split.X_val, split.y_val)
    test = model.evaluate(reference, split.X_test, split.y_test)
    assert card["metrics_on"] == "validation"
    assert card["metrics"] == {k: round(v, 6) for k, v in validation.items()}
    assert card["test_metrics"] == test  # `extra` fields are written as given


def test_a_serving_bundle_holds_only_the_served_formats(tmp_path, reference, split) -> None:
    card = packaging.save_model_bundle(reference, {"accuracy": 0.5}, tmp_path, version="9.9.9",
                                       X_train=split.X_train, formats=packaging.SERVING_FORMATS, extra={"note": "x"})
    assert sorted(card["artifacts"]) == sorted(packaging.SERVING_FORMATS)
    assert (card["version"], card["note"]) == ("9.9.9", "x")
    assert packaging.bundle_is_complete(tmp_path, packaging.SERVING_FORMATS)
    assert not packaging.bundle_is_complete(tmp_path), "pickle and skops are missing from a serving bundle"


def test_bundle_is_complete_needs_the_card_and_every_file(copy_of) -> None:
    assert packaging.bundle_is_complete(copy_of)
    (copy_of / packaging.FILES["skops"]).unlink()
    assert not packaging.bundle_is_complete(copy_of)
    assert packaging.bundle_is_complete(copy_of, ("onnx", "joblib", "pickle"))
    (copy_of / packaging.METADATA_FILE).unlink()
    assert not packaging.bundle_is_complete(copy_of, ("onnx",))
    assert not packaging.bundle_is_complete(copy_of.parent / "nowhere")


@pytest.mark.parametrize("fmt", list(packaging.FILES))
def test_every_format_round_trips(bundle_dir, reference, split, fmt) -> None:
    X = np.vstack([split.X_val, split.X_test])
    predictor = packaging.load_model(bundle_dir, fmt)
    assert predictor.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_array_equal(predictor.predict(X), reference.predict(X))
    tolerance = 1e-5 if fmt == "onnx" else 0.0
    assert np.abs(predictor.predict_proba(X) - reference.predict_proba(X)).max() <= tolerance


def test_every_format_breaks_a_vote_tie_like_scikit_learn(bundle_dir, reference, split) -> None:
    X = np.vstack([split.X_val, split.X_test])
    ties = X[reference.predict_proba(X)[:, 1] == 0.5]
    assert len(ties) > 0, "the data should hold rows where the 100 trees split 50/50"
    for fmt in packaging.SERVING_FORMATS:
        np.testing.assert_array_equal(packaging.load_model(bundle_dir, fmt).predict(ties), reference.predict(ties))
    # A float32 sum can land on either side of one half (several onnxruntime threads add in another order):
    card = packaging.read_metadata(bundle_dir)
    above = packaging.Predictor("onnx", card, backend=lambda X: np.array([[0.49999994, 0.50000006], [0.4, 0.6]]))
    np.testing.assert_array_equal(above.predict(np.zeros((2, 20))), [0, 1])
    np.testing.assert_array_equal(packaging.winning_class(np.array([[0.3, 0.3, 0.3000001], [0.1, 0.2, 0.7]])), [0, 2])


@pytest.mark.parametrize("fmt", packaging.SERVING_FORMATS)
def test_proba_checked_skips_the_checks_and_answers_the_same(bundle_dir, split, fmt, monkeypatch) -> None:
    predictor = packaging.load_model(bundle_dir, fmt)
    expected = predictor.predict_proba(split.X_val)

    def refuse(_X):
        raise AssertionError("proba_checked must not check the input again")

    monkeypatch.setattr(predictor, "check_input", refuse)
    np.testing.assert_array_equal(predictor.proba_checked(split.X_val), expected)
    with pytest.raises(AssertionError):
        predictor.predict_proba(split.X_val)


@pytest.mark.parametrize("fmt", list(packaging.FILES))
def test_a_flipped_byte_is_refused_naming_the_file_and_both_hashes(copy_of, fmt) -> None:
    path = copy_of / packaging.FILES[fmt]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(packaging.IntegrityError) as err:
        packaging.load_model(copy_of, fmt)
    message = str(err.value)
    assert path.name in message and err.value.expected in message and err.value.actual in message
    assert err.value.actual == file_sha256(path) != err.value.expected


def test_a_truncated_pickle_is_refused_before_unpickling(copy_of) -> None:
    path = copy_of / "model.pkl"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(packaging.IntegrityError):
        packaging.load_model(copy_of, "pickle")


def test_verify_false_skips_the_hash_check(copy_of) -> None:
    rewrite_card(copy_of, lambda card: card["artifacts"]["onnx"].update(sha256="0" * 64))
    with pytest.raises(packaging.IntegrityError):
        packaging.load_model(copy_of, "onnx")
    assert packaging.load_model(copy_of, "onnx", verify=False).predict(np.zeros((1, 20))).shape == (1,)


def test_missing_bundle_or_file_names_the_path_and_the_fix(copy_of, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="03_packaging"):
        packaging.load_model(tmp_path / "nowhere")
    (copy_of / "model.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        packaging.load_model(copy_of, "onnx")
    (copy_of / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        packaging.load_model(copy_of, "pickle")


def test_unknown_format_is_named(bundle_dir) -> None:
    with pytest.raises(ValueError, match="unknown format 'h5'"):
        packaging.load_model(bundle_dir, "h5")


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
def test_bad_input_is_a_value_error_naming_expected_and_received(bundle_dir, bad, message) -> None:
    predictor = packaging.load_model(bundle_dir, "onnx")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        predictor.predict(bad)


def test_one_dimensional_row_is_accepted(bundle_dir, split) -> None:
    predictor = packaging.load_model(bundle_dir, "onnx")
    assert predictor.predict(split.X_val[0]).shape == (1,)


def test_another_sklearn_version_warns_naming_both(copy_of) -> None:
    rewrite_card(copy_of, lambda card: card["versions"].update({"scikit-learn": "0.24.2"}))
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
    rewrite_card(copy_of, lambda card: card["artifacts"]["skops"].update(sha256=file_sha256(path)))
    with pytest.raises(packaging.UntrustedTypeError, match="builtins.eval"):
        packaging.load_model(copy_of, "skops")


def test_the_trusted_list_is_all_a_forest_needs(bundle_dir) -> None:
    import skops.io as sio

    assert sio.get_untrusted_types(file=bundle_dir / "model.skops") == packaging.TRUSTED_SKOPS_TYPES


def test_a_pickle_can_run_code_which_is_why_we_hash(copy_of, capsys) -> None:
    pickle.loads(pickle.dumps(_Payload()))  # noqa: S301 - the point of the test
    assert "code ran" in capsys.readouterr().out
    (copy_of / "model.pkl").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(packaging.IntegrityError):
        packaging.load_model(copy_of, "pickle")
    assert "code ran" not in capsys.readouterr().out


def test_ensure_model_bundle_rebuilds_a_missing_or_incomplete_bundle(tmp_path, bundle_dir) -> None:
    target = tmp_path / "model"
    assert packaging.ensure_model_bundle(target) == target
    assert packaging.load_model(target).predict(np.zeros((1, 20))).shape == (1,)
    card = packaging.read_metadata(target)
    record = model.load_reference_record()
    assert (card["version"], card["test_metrics"]) == ("1.0.0", record["test"])
    assert card["artifacts"]["onnx"]["bytes"] == packaging.read_metadata(bundle_dir)["artifacts"]["onnx"]["bytes"]
    (target / "model.skops").unlink()
    packaging.ensure_model_bundle(target)
    assert packaging.bundle_is_complete(target)
    before = (target / packaging.METADATA_FILE).read_bytes()
    packaging.ensure_model_bundle(target)
    assert (target / packaging.METADATA_FILE).read_bytes() == before, "a complete bundle is left alone"
