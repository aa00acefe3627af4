"""A model's state as files (``training.core.model_state``): real crmlab models answer the same after a
round trip, nothing is pickled, and anything the format does not know is refused at logging time."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from training.churn.calibration import fit_calibrator
from training.churn.model import ChurnModel
from training.churn.scorers import LgbmScorer, fit_baseline
from training.clv.pyfunc import ClvModel, btyd_spec
from training.core import model_state
from training.core.lgbm import fit_lgbm
from training.core.pyfunc_base import InputSpec
from training.core.tabular import ColumnRule, TableSchema
from training.segments.inputs import select_features
from training.segments.model import SegmentsModel, required_inputs
from training.segments.pipeline import SegmenterConfig, fit_segmenter
from training.world.churn_features import synthetic_features

FEATURES = ["recency_days", "frequency", "monetary_total", "tenure_days", "region"]


@dataclass
class Holder:
    """Every kind of value the format stores, in one object."""

    values: dict


@pytest.fixture(autouse=True)
def _no_unpickling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("model_state unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setitem(model_state.CLASSES, "test.Holder", f"{__name__}:Holder")


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return synthetic_features(600, seed=3)


def _round_trip(obj, tmp_path):
    folder = model_state.save(obj, tmp_path / model_state.STATE_ARTIFACT)
    assert {p.suffix for p in folder.iterdir()} <= {".json", ".npz", ".txt", ".skops"}
    return model_state.load(folder)


def test_every_value_kind_comes_back_equal_and_typed(tmp_path):
    values = {
        "none": None, "flag": True, "count": 3, "ratio": 0.25, "nan": float("nan"), "text": "a",
        "np_int": np.int64(7), "np_float": np.float32(1.5), "tuple": (1, "b"), "set": {"x", "y"},
        "frozen": frozenset({"p"}), 4: "int key", "floats": np.arange(6, dtype=float).reshape(2, 3),
        "ints": np.array([3, 1], dtype=np.int64), "bools": np.array([True, False]),
        "words": np.array(["a", None, "c"], dtype=object), "fixed": np.array(["ab", "c"]),
        "index": pd.Index(["u1", "u2"], name="customer_id"), "csr": sp.csr_matrix(np.eye(3) * 2.0),
        "spec": InputSpec(("x", "c"), frozenset({"c"}), frozenset({"x"})),
    }
    back = _round_trip(Holder(values), tmp_path).values
    assert back.keys() == values.keys()
    for key in ("none", "flag", "count", "ratio", "text", "tuple", "set", "frozen", 4, "spec"):
        assert back[key] == values[key] and type(back[key]) is type(values[key])
    assert np.isnan(back["nan"])
    assert back["np_int"].dtype == np.int64 and back["np_float"].dtype == np.float32 and back["np_float"] == 1.5
    for key in ("floats", "ints", "bools", "words", "fixed"):
        np.testing.assert_array_equal(back[key], values[key])
        assert back[key].dtype == values[key].dtype
    pd.testing.assert_index_equal(back["index"], values["index"])
    assert (back["csr"] != values["csr"]).nnz == 0 and back["csr"].format == "csr"


def test_churn_models_answer_exactly_as_before(features, tmp_path):
    labelled = features[features["churned"].notna()].reset_index(drop=True)
    x, y = labelled[FEATURES], labelled["churned"].astype(int)
    half = np.arange(len(x)) % 2 == 0
    booster = fit_lgbm({"num_leaves": 4, "seed": 1}, (x[half], y[half]), (x[~half], y[~half]), task="binary",
                       categorical=["region"], max_rounds=20)
    spec = InputSpec(tuple(FEATURES), frozenset({"region"}), frozenset(FEATURES[:4]))
    schema = TableSchema(tuple(ColumnRule(c, "categorical" if c == "region" else "numeric") for c in FEATURES))
    linear, _ = fit_baseline((x[half], y[half]), (x[~half], y[~half]), features=FEATURES,
                             categorical=["region"], seed=1)
    scorers = [LgbmScorer(booster, FEATURES, ["region"]), linear]
    for scorer, method in zip(scorers, ("isotonic", "sigmoid"), strict=True):
        calibrator = fit_calibrator(method, scorer.raw_proba(x[~half]), y[~half].to_numpy())
        model = ChurnModel(spec, scorer, calibrator, table_schema=schema, labels={"recency_days": "days since"})
        back = _round_trip(model, tmp_path / method)
        assert type(back) is ChurnModel and type(back.scorer) is type(scorer)
        pd.testing.assert_frame_equal(back.predict(None, x.head(50)), model.predict(None, x.head(50)))


def test_clv_and_segment_models_answer_exactly_as_before(features, tmp_path):
    params = {"bgnbd_r": 0.5, "bgnbd_alpha": 10.0, "bgnbd_a": 0.8, "bgnbd_b": 2.5, "gg_p": 6.0, "gg_q": 4.0,
              "gg_v": 15.0}
    btyd = ClvModel(btyd_spec(), kind="btyd", horizon_days=90, thresholds={"platinum": 50.0, "gold": 20.0,
                                                                            "silver": 5.0}, btyd_params=params)
    rows = pd.DataFrame({c: v for c, v in zip(btyd_spec().columns, ([2, 0, None], [30.0, 0.0, None],
                                                                     [200.0, 100.0, None], [25.0, 0.0, None]),
                                               strict=True)})
    back = _round_trip(btyd, tmp_path / "clv")
    pd.testing.assert_frame_equal(back.predict(None, rows), btyd.predict(None, rows))

    frame = features.drop(columns=["churned", "future_spend"])
    spec = select_features(frame)
    segmenter = fit_segmenter(frame, spec, SegmenterConfig("gmm", 3), seed=1)
    segments = SegmentsModel(segmenter, {0: 4, 1: 5, 2: 6}, {4: "A", 5: "B", 6: "C"}, high_water=6,
                             required=required_inputs(frame, segmenter))
    back = _round_trip(segments, tmp_path / "segments")
    pd.testing.assert_frame_equal(back.predict(None, frame.head(80)), segments.predict(None, frame.head(80)))


def test_unknown_values_and_classes_are_refused_naming_the_attribute(tmp_path):
    with pytest.raises(TypeError, match=r"model\.values\['bad'\]: a types\.SimpleNamespace"):
        model_state.save(Holder({"bad": SimpleNamespace(a=1)}), tmp_path / "a")
    with pytest.raises(TypeError, match=r"not in training\.core\.model_state\.CLASSES"):
        model_state.class_name(SimpleNamespace())
    folder = model_state.save(Holder({}), tmp_path / "b")
    (folder / "state.json").write_text((folder / "state.json").read_text().replace("test.Holder", "os.system"))
    with pytest.raises(ValueError, match=r"unknown crmlab model class 'os\.system'"):
        model_state.load(folder)


def test_restore_fills_an_empty_instance_and_leaves_a_pickled_model_alone(tmp_path):
    spec = InputSpec(("x",), required=frozenset({"x"}))
    folder = model_state.save(Holder({"spec": spec}), tmp_path / "s")
    empty = model_state.empty_model("test.Holder")
    model_state.restore(empty, SimpleNamespace(artifacts={model_state.STATE_ARTIFACT: str(folder)}))
    assert empty.values == {"spec": spec}
    untouched = Holder({"kept": 1})
    model_state.restore(untouched, SimpleNamespace(artifacts={"other": "x"}))
    assert untouched.values == {"kept": 1}
