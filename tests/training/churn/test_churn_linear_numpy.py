"""The logistic baseline's numpy mirror (training.churn.linear_numpy) against its scikit-learn pipeline."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from training.churn import linear_numpy
from training.churn.scorers import LinearScorer, fit_baseline, linear_frame
from training.core import model_state

FEATURES = ["recency", "spend", "never_seen", "plan", "code"]
CATEGORICAL = ["plan", "code"]
NUMERIC = ["recency", "spend", "never_seen"]


def _table(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers with gaps, a number never observed in training, text and numeric categories with gaps."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({
        "recency": rng.gamma(2.0, 40.0, n),
        "spend": rng.normal(100, 30, n),
        "never_seen": np.nan,  # all missing in training: the imputer drops it, its indicator stays
        "plan": rng.choice(["basic", "plus", "premium"], n).astype(object),
        "code": rng.choice([1, 2, 3], n).astype(float),  # a category given as numbers
    })
    x.loc[rng.random(n) < 0.15, "recency"] = np.nan
    x.loc[rng.random(n) < 0.1, "plan"] = None
    x.loc[rng.random(n) < 0.1, "code"] = np.nan
    logit = 0.02 * (x["recency"].fillna(80) - 80) - 0.8 * (x["plan"] == "premium") + 0.3 * (x["code"] == 2)
    return x, pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))


@pytest.fixture(scope="module")
def scorer() -> LinearScorer:
    x, y = _table(1500, seed=0)
    fitted, _ = fit_baseline((x[:1000], y[:1000]), (x[1000:], y[1000:]), features=FEATURES,
                             categorical=CATEGORICAL, seed=0)
    assert fitted._fast() is not None  # crmlab's pipeline is mirrored, not scored by the fallback
    return fitted


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Fresh rows with every special case: unseen and missing categories, a gap where training had none."""
    x, _ = _table(400, seed=1)
    x.index = pd.RangeIndex(1000, 1400)  # not 0..n-1: results must follow the input index
    x.loc[1000, "plan"] = "enterprise"              # unseen text category
    x.loc[1001, "code"] = 7.0                       # unseen numeric category
    x.loc[1002, ["recency", "spend"]] = np.nan      # spend had no gap in training: imputed, no indicator
    x.loc[1003, "never_seen"] = 42.0                # a value where training only had gaps
    x.loc[1004, ["plan", "code"]] = [np.nan, None]  # NaN and None are both "missing"
    return x


def _reference(scorer: LinearScorer, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Design matrix, probability and contributions computed by scikit-learn itself."""
    frame = linear_frame(x[scorer.features], scorer.categorical)
    design = scorer.pipeline.named_steps["prep"].transform(frame)
    return design, scorer.pipeline.predict_proba(frame)[:, 1], scorer.pipeline_contributions(x)


def _max_gap(mirror: linear_numpy.LinearMirror, scorer: LinearScorer, x: pd.DataFrame) -> float:
    design, proba, _ = _reference(scorer, x)
    return max(np.abs(mirror.design(x) - design).max(), np.abs(mirror.proba(x) - proba).max())


@pytest.mark.parametrize("pick", [slice(0, 1), slice(1, 2), slice(2, 3), slice(3, 4), slice(4, 5), slice(None)],
                         ids=["unseen-text", "unseen-number", "new-gap", "value-never-seen", "missing", "batch"])
def test_the_mirror_equals_the_pipeline(scorer, rows, pick):
    x = rows.iloc[pick]
    design, proba, contributions = _reference(scorer, x)
    np.testing.assert_allclose(scorer._fast().mirror.design(x), design, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.raw_proba(x), proba, rtol=0, atol=1e-12)
    got = scorer.contributions(x)
    pd.testing.assert_index_equal(got.index, x.index)
    assert list(got.columns) == FEATURES
    np.testing.assert_allclose(got.to_numpy(), contributions.to_numpy(), rtol=0, atol=1e-10)


def test_the_special_rows_are_scored_as_documented(scorer, rows):
    design = scorer._fast().mirror.design(rows.iloc[:5])
    names = list(scorer.pipeline.named_steps["prep"].get_feature_names_out())
    plan = [i for i, n in enumerate(names) if n.startswith("cat__plan_")]
    assert design[0, plan].sum() == 0  # unseen: no one-hot column set
    assert design[4, names.index("cat__plan_missing")] == 1 and design[4, names.index("cat__code_missing")] == 1
    assert "num__never_seen" not in names and "num__missingindicator_never_seen" in names


VARIANTS = {
    "nullable Int64 with NA": lambda x: x.assign(spend=x["spend"].round().astype("Int64").mask(x.index % 7 == 0)),
    "nullable Float64": lambda x: x.assign(recency=x["recency"].astype("Float64")),
    "booleans as a number": lambda x: x.assign(spend=x["spend"] > 100),
    "object numbers with None": lambda x: x.assign(recency=x["recency"].astype(object).where(x.index % 5 > 0, None)),
    "every number float32": lambda x: x.astype({c: np.float32 for c in NUMERIC}),
    "float32 and int8": lambda x: x.astype({"recency": np.float32, "never_seen": np.float32}).assign(
        spend=x["spend"].fillna(0).round().clip(-100, 100).astype(np.int8)),
    "every number float16": lambda x: x.astype({c: np.float16 for c in NUMERIC}),
    "pandas categorical": lambda x: x.assign(plan=x["plan"].astype("category")),
    "pandas string dtype": lambda x: x.assign(plan=x["plan"].astype("string")),
    "numeric category as Int64": lambda x: x.assign(code=x["code"].astype("Int64")),
    "numeric category as mixed objects": lambda x: x.assign(code=x["code"].astype(object).where(x.index % 3 > 0, 2)),
    "a boolean category": lambda x: x.assign(plan=x["plan"].where(x.index % 4 > 0, True)),
    "pandas NA category": lambda x: x.assign(plan=x["plan"].where(x.index % 4 > 0, pd.NA)),
    "pandas NA in an object number column": lambda x: x.assign(recency=x["recency"].astype(object).where(
        x.index % 5 > 0, pd.NA)),
    "infinity": lambda x: x.assign(spend=x["spend"].where(x.index % 9 > 0, np.inf)),
    "no rows": lambda x: x.iloc[:0],
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_inputs_are_converted_as_scikit_learn_converts_them(scorer, rows, name):
    """Same numbers where scikit-learn scores the input; the same kind of error where it refuses it."""
    x = VARIANTS[name](rows.copy())
    try:
        _, proba, contributions = _reference(scorer, x)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            scorer.raw_proba(x)
        return
    np.testing.assert_allclose(scorer.raw_proba(x), proba, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.contributions(x).to_numpy(), contributions.to_numpy(), rtol=0, atol=1e-10)


def _off(mirror: linear_numpy.LinearMirror, index: int, **changes) -> linear_numpy.LinearMirror:
    blocks = list(mirror.blocks)
    blocks[index] = dataclasses.replace(blocks[index], **changes)
    return dataclasses.replace(mirror, blocks=blocks)


def test_a_wrong_mirror_is_caught(scorer, rows):
    """Each plausible mistake moves the result far beyond the tolerances above."""
    mirror = scorer._fast().mirror
    numeric, categorical = mirror.blocks
    assert _max_gap(mirror, scorer, rows) < 1e-12
    wrong = {
        "scaler mean off by 1e-6": _off(mirror, 0, mean=numeric.mean + np.eye(len(numeric.mean))[0] * 1e-6),
        "scaler scale off by 1e-6": _off(mirror, 0, scale=numeric.scale * (1 + 1e-6)),
        "mean fill instead of median": _off(mirror, 0, fill=numeric.fill + 1.0),
        "no missing indicators": dataclasses.replace(
            _off(mirror, 0, indicator=numeric.indicator[:0], mean=numeric.mean[:len(numeric.kept)],
                 scale=numeric.scale[:len(numeric.kept)]),
            coef=mirror.coef[np.r_[:len(numeric.kept), numeric.width:mirror.width]]),
        "categories in the wrong order": _off(mirror, 1, codes=[{k: len(c) - 1 - v for k, v in c.items()}
                                                                for c in categorical.codes]),
        "intercept dropped": dataclasses.replace(mirror, intercept=0.0),
    }
    for name, bad in wrong.items():
        try:
            gap = _max_gap(bad, scorer, rows.iloc[:5])  # the single-row (dict lookup) path
        except ValueError:  # a wrong shape is caught too
            continue
        assert gap > 1e-9, name
    assert _max_gap(_off(mirror, 1, lookups=categorical.lookups[::-1]), scorer, rows) > 1e-9  # the batch path


def test_an_unmirrored_pipeline_is_scored_by_scikit_learn(scorer, rows):
    x, y = _table(600, seed=2)
    other = LinearScorer(_pipeline_with_drop(), FEATURES, CATEGORICAL)
    other.pipeline.fit(linear_frame(x, CATEGORICAL), y)
    other.fit_explainer(x)
    assert other._fast() is None
    np.testing.assert_allclose(other.raw_proba(rows),
                               other.pipeline.predict_proba(linear_frame(rows, CATEGORICAL))[:, 1], rtol=0, atol=0)


def _pipeline_with_drop():
    """crmlab's pipeline with a one-hot ``drop``, an option the mirror does not reproduce."""
    from training.churn.scorers import _pipeline

    pipeline = _pipeline(FEATURES, CATEGORICAL, 1.0, 0)
    pipeline.named_steps["prep"].transformers[1][1].set_params(drop="first", handle_unknown="ignore")
    return pipeline


def test_the_mirror_is_never_stored_and_is_rebuilt_on_load(scorer, rows, tmp_path):
    scorer.raw_proba(rows)  # the mirror is cached on the scorer now
    folder = model_state.save(scorer, tmp_path / "state")
    state = json.loads((folder / "state.json").read_text())["model"]["v"]
    assert set(state) == {"pipeline", "features", "categorical", "kind", "train_mean_", "column_feature_"}
    loaded = model_state.load(folder)
    assert "_fast_linear" not in loaded.__dict__
    loaded.prepare_explainer()  # what load_context does
    assert "_fast_linear" in loaded.__dict__
    np.testing.assert_array_equal(loaded.raw_proba(rows), scorer.raw_proba(rows))
    np.testing.assert_array_equal(loaded.contributions(rows).to_numpy(), scorer.contributions(rows).to_numpy())


def test_feature_sum_adds_each_column_into_its_feature():
    to_features = linear_numpy.feature_sum(["a", "b", "a", "a"], ["a", "unused", "b"])
    per_column = np.array([[1.0, 10.0, 100.0, 1000.0], [2.0, 20.0, 200.0, 2000.0]])
    np.testing.assert_array_equal(to_features(per_column), [[1101.0, 0.0, 10.0], [2202.0, 0.0, 20.0]])


def test_large_batches_are_scored_in_chunks_with_the_same_result(scorer, rows, monkeypatch):
    whole_proba, whole_contrib = scorer.raw_proba(rows), scorer.contributions(rows)
    monkeypatch.setattr(linear_numpy, "CHUNK_ROWS", 64)  # 400 rows: 7 chunks, the last one partial
    np.testing.assert_array_equal(scorer.raw_proba(rows), whole_proba)
    pd.testing.assert_frame_equal(scorer.contributions(rows), whole_contrib)
