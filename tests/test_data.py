"""helpers.data (01): one draw, exact balance, known roles, bit-identical regeneration, a schema that bites."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import data
from helpers.common.schema import FEATURES, TARGET


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return data.generate()


def test_training_set_is_2000_rows_exactly_balanced(frames) -> None:
    train, _ = frames
    assert train.shape == (2_000, 21)
    assert list(train.columns) == FEATURES + [TARGET]
    assert train[TARGET].value_counts().to_dict() == {0: 1_000, 1: 1_000}


def test_pool_is_disjoint_and_splits_into_backlog_and_traffic(frames) -> None:
    train, pool = frames
    assert len(pool) == data.POOL_ROWS
    assert train.merge(pool, on=FEATURES, how="inner").empty, "a training row reappears in the production pool"
    backlog, traffic = data.backlog(pool), data.traffic(pool)
    assert len(backlog) == data.BACKLOG_ROWS and len(traffic) == data.POOL_ROWS - data.BACKLOG_ROWS
    assert backlog.merge(traffic, on=FEATURES, how="inner").empty, "live traffic must never be trained on"
    assert list(traffic.index) == list(range(len(traffic)))


def test_pool_comes_from_the_same_distribution(frames) -> None:
    from scipy.stats import ks_2samp

    train, pool = frames
    pvalues = [ks_2samp(train[f], pool[f]).pvalue for f in FEATURES]
    assert min(pvalues) > 0.05 / len(FEATURES), "some feature differs between training data and pool"


def test_roles_partition_the_features() -> None:
    roles = data.feature_roles()
    assert (len(roles.informative), len(roles.redundant), len(roles.noise)) == (5, 3, 12)
    assert sorted(roles.informative + roles.redundant + roles.noise) == sorted(FEATURES)
    assert roles.role_of(roles.noise[0]) == "noise"


def test_noise_features_do_not_separate_classes_but_informative_do(frames) -> None:
    train, _ = frames
    roles = data.feature_roles()
    gap = train.groupby(TARGET)[FEATURES].mean().diff().iloc[1].abs()
    assert gap[roles.noise].max() < 0.15
    assert gap[roles.informative].max() > 0.5


def test_generation_is_bit_identical(frames) -> None:
    again_train, again_pool = data.generate()
    pd.testing.assert_frame_equal(frames[0], again_train)
    pd.testing.assert_frame_equal(frames[1], again_pool)


def test_load_is_a_pure_read_and_ensure_rebuilds_identically(tmp_path, frames) -> None:
    with pytest.raises(FileNotFoundError, match="run notebooks/01_dataset.ipynb"):
        data.load_dataset(tmp_path)
    assert not (tmp_path / data.DATASET_CSV).exists()
    loaded = data.ensure_dataset(tmp_path)
    assert (tmp_path / data.DATASET_CSV).exists() and (tmp_path / data.SCHEMA_JSON).exists()
    np.testing.assert_array_equal(loaded[FEATURES].to_numpy(), frames[0][FEATURES].to_numpy())
    first_bytes = (tmp_path / data.DATASET_CSV).read_bytes()
    (tmp_path / data.DATASET_CSV).unlink()
    data.ensure_dataset(tmp_path)
    assert (tmp_path / data.DATASET_CSV).read_bytes() == first_bytes
    pd.testing.assert_frame_equal(data.ensure_production_pool(tmp_path), frames[1])


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda df: df.drop(columns=["feature_3"]), "missing column(s): feature_3"),
        (lambda df: df.assign(extra=1.0), "unexpected column(s): extra"),
        (lambda df: df.assign(feature_2=df["feature_2"].astype(str)), "column feature_2 must be float"),
        (lambda df: df.assign(feature_4=np.where(df.index == 5, np.nan, df["feature_4"])), "column feature_4 at row 5"),
        (lambda df: df.assign(feature_1=np.where(df.index == 0, np.inf, df["feature_1"])), "(inf)"),
        (lambda df: df.assign(target=df["target"] + 1), "must hold only 0 and 1, found [1, 2]"),
        (lambda df: df.assign(target=df["target"].astype(float)), "must be integer 0/1"),
        (lambda df: df.iloc[:0], "no rows"),
    ],
)
def test_validate_rejects_bad_data_with_a_readable_message(frames, corrupt, message) -> None:
    with pytest.raises(data.DatasetError) as err:
        data.validate_dataset(corrupt(frames[0].copy()))
    assert message in str(err.value)


def test_validate_rejects_non_frames() -> None:
    with pytest.raises(data.DatasetError, match="expected a pandas DataFrame, got list"):
        data.validate_dataset([[1, 2, 3]])


def test_split_is_stratified_50_20_30_and_disjoint(frames) -> None:
    split = data.split_dataset(frames[0])
    assert split.sizes() == {"train": 1_000, "validation": 400, "test": 600}
    assert (split.y_train.sum(), split.y_val.sum(), split.y_test.sum()) == (500, 200, 300)
    rows = np.vstack([split.X_train, split.X_val, split.X_test])
    assert len(np.unique(rows, axis=0)) == 2_000, "a row sits in two parts of the split"


def test_split_scales_with_a_smaller_dataset(frames) -> None:
    assert data.split_dataset(frames[0].iloc[:1_000]).sizes() == {"train": 500, "validation": 200, "test": 300}


def test_schema_records_roles_and_generator() -> None:
    card = data.schema()
    assert card["rows"] == 2_000 and len(card["features"]) == 20
    assert {f["role"] for f in card["features"]} == {"informative", "redundant", "noise"}
    assert card["generator"]["random_state"] == 42
