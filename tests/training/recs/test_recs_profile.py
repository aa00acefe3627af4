"""``customer_profile`` takes ``next_best_products`` (top 3 product ids) from the registered recommender."""

from __future__ import annotations

import mlflow
import pandas as pd

from serving.profile_model import OUTPUT_COLUMNS, CustomerProfileModel


def test_profile_answers_the_recommenders_top_3_per_customer(trained):
    result, settings = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    recs = mlflow.pyfunc.load_model(f"models:/{result.model_name}@champion")
    inputs = recs.metadata.get_input_schema().input_names()
    profile = CustomerProfileModel({"recs": result.version}, {"recs": inputs}, {"recs": recs})
    ids = [str(c) for c in result.recommender.customers[:4]] + ["NEW-CUSTOMER"]
    out = profile.predict(None, pd.DataFrame({"customer_id": ids, "tenure_days": 10.0}))
    assert list(out.columns) == OUTPUT_COLUMNS and list(out["customer_id"]) == ids
    lists = out["next_best_products"].str.split(",")
    assert (lists.map(len) == 3).all()
    expected = result.recommender.top_products(ids, 3)
    assert lists.tolist() == expected
    assert set(out["recs_version"]) == {result.version} and out["churn_probability"].isna().all()
