"""Reading the clean folder: a schema without product ids, no catalogue, bad cutoffs; the CLI's one line."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CUTOFF, HORIZON

from crmlab.cli import cli
from training.recs.data import RecsInputError, as_timestamp, read_recs_data, time_split
from training.recs.fit import AlsParams, build_recommender
from training.recs.model import tier_scorers


def _copy(clean, out, drop_products: bool = False, drop_column: str | None = None):
    out.mkdir()
    for table in ("transactions", "customers", "products"):
        if table == "products" and drop_products:
            continue
        frame = pd.read_parquet(clean / f"{table}.parquet")
        if table == "transactions" and drop_column:
            frame = frame.drop(columns=drop_column)
        frame.to_parquet(out / f"{table}.parquet", index=False)
    return out


def test_time_split_keeps_history_before_and_horizon_after(recs_clean):
    data = read_recs_data(recs_clean)
    split = time_split(data.purchases, as_timestamp(CUTOFF), HORIZON)
    cutoff = pd.Timestamp(CUTOFF)
    assert split.history["order_ts"].max() < cutoff <= split.future["order_ts"].min()
    assert split.future["order_ts"].max() < cutoff + pd.Timedelta(days=HORIZON)
    assert data.catalog.has_content and len(data.catalog.product_ids) == 200


def test_a_schema_without_product_ids_gets_a_clear_message(recs_clean, tmp_path):
    folder = _copy(recs_clean, tmp_path / "clean", drop_column="product_id")
    with pytest.raises(RecsInputError, match="recommendations need product ids"):
        read_recs_data(folder)
    result = CliRunner().invoke(cli, ["train", "recs", "--data", str(folder), "--cutoff", str(CUTOFF)])
    assert result.exit_code == 1 and "recommendations need product ids" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_cutoff_outside_the_data_is_refused(recs_clean):
    result = CliRunner().invoke(cli, ["train", "recs", "--data", str(recs_clean), "--cutoff", "2031-01-01"])
    assert result.exit_code == 1 and "choose an earlier cutoff" in result.output
    result = CliRunner().invoke(cli, ["train", "recs", "--data", str(recs_clean), "--cutoff", "not-a-date"])
    assert result.exit_code == 1 and "--cutoff" in result.output and "Traceback" not in result.output


def test_without_a_catalogue_the_recommender_uses_ids_only(recs_clean, tmp_path):
    data = read_recs_data(_copy(recs_clean, tmp_path / "clean", drop_products=True))
    assert not data.catalog.has_content
    split = time_split(data.purchases, as_timestamp(CUTOFF), HORIZON)
    weights = {t: dict.fromkeys(tier_scorers(t, has_content=False), 0.5) for t in ("light", "warm")}
    model = build_recommender(data, split.history, split.cutoff, params=AlsParams(factors=8, iterations=3),
                              weights=weights | {"cold": {"popularity": 1.0}}, segment_column=None,
                              min_history=3, popularity_days=365, seed=0)
    assert model.tfidf is None and tier_scorers("light", has_content=False) == ("als", "popularity")
    out = model.recommend(model.customers[:5], k=4)
    assert len(out) == 20 and not out["reason"].str.startswith("similar to").any()


def test_main_goes_on_when_the_data_has_no_product_ids(recs_clean, tmp_path, capsys):
    import click
    import mlflow

    from crmlab.commands.main import _Steps
    from crmlab.commands.main import command as main_command

    folder = _copy(recs_clean, tmp_path / "clean", drop_column="product_id")
    with click.Context(main_command) as ctx, mlflow.start_run() as run:
        _Steps(ctx, run.info.experiment_id, force=True).recs(
            inputs=[folder], data_dir=str(folder), cutoff=str(CUTOFF), horizon_days=HORIZON, trials=1, seed=0,
            promote=True)
    out = capsys.readouterr().out
    assert "recommendations skipped" in out and "recommendations need product ids" in out


def test_products_flagged_not_repurchasable_are_not_recommended_again(recs_clean, tmp_path):
    folder = _copy(recs_clean, tmp_path / "clean")
    products = pd.read_parquet(folder / "products.parquet")
    data = read_recs_data(folder)
    split = time_split(data.purchases, as_timestamp(CUTOFF), HORIZON)
    weights = {"cold": {"popularity": 1.0}, "light": {"content": 1.0}, "warm": {"content": 1.0}}

    def top_for(customer_data):
        model = build_recommender(customer_data, split.history, split.cutoff, params=AlsParams(factors=8, iterations=3),
                                  weights=weights, segment_column=None, min_history=3, popularity_days=365, seed=0)
        return model.recommend(model.customers[:50], k=10)

    before = top_for(data)
    bought = {(c, p) for c, p in zip(split.history["customer_id"], split.history["product_id"], strict=True)}
    again = before[[(c, p) in bought for c, p in zip(before["customer_id"], before["product_id"], strict=True)]]
    assert len(again)  # content ranks a customer's own products high: they come back unless flagged
    products.assign(repurchasable=~products["product_id"].isin(again["product_id"])).to_parquet(
        folder / "products.parquet", index=False)
    after = top_for(read_recs_data(folder))
    repeated = [(c, p) in bought and p in set(again["product_id"])
                for c, p in zip(after["customer_id"], after["product_id"], strict=True)]
    assert not any(repeated) and len(after) == len(before)
