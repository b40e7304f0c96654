"""utils.search, utils.costs and utils.questions: the shared concepts of chapters 05-07."""

import random

import numpy as np
import pytest

from utils import costs, questions, search
from utils.quiz import Question, check_answer


def test_random_search_keeps_best_and_budget():
    space = {"lr": ("log", 1e-4, 1e-1), "wd": ("uniform", 0, 1), "bs": ("choice", [8, 16])}
    params = search.sample_hyperparameters(space, random.Random(0))
    assert 1e-4 <= params["lr"] <= 1e-1 and params["bs"] in (8, 16)
    calls = []

    def objective(p, trial):
        calls.append(trial)
        return {"val_acc": -abs(np.log10(p["lr"]) + 2), "model": f"m{trial}"}

    out = search.random_search(objective, space, trials=5, seed=1)
    assert calls == list(range(5)) and len(out.trials) == 5
    assert out.best["val_acc"] == max(t["val_acc"] for t in out.trials)
    assert out.best["model"] == f"m{out.best['trial']}"
    assert "model" not in out.trials[0] and out.seconds >= 0
    table = out.table()
    assert list(table.index) == list(range(5)) and {"lr", "wd", "bs", "val_acc"} <= set(
        table.columns)
    with pytest.raises(ValueError, match="Unknown search-space kind"):
        search.sample_hyperparameters({"x": ("grid", 1, 2)}, random.Random(0))
    with pytest.raises(ValueError, match="at least 1"):
        search.random_search(objective, space, trials=0)


def test_cost_table():
    rows = costs.cost_table({"a": 3600.0, "b": 1800.0}, hourly_rates={"x": 1.0, "y": 0.5},
                            spot_savings=0.9)
    assert len(rows) == 4
    assert rows.loc[0, "on_demand_usd"] == pytest.approx(1.0)
    assert rows.loc[0, "spot_usd"] == pytest.approx(0.1)
    assert rows.loc[3, "on_demand_usd"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="spot_savings"):
        costs.cost_table({"a": 1.0}, hourly_rates={"x": 1.0}, spot_savings=1.5)
    with pytest.raises(ValueError, match="must be >= 0"):
        costs.cost_table({"a": -1.0})


def test_one_source_of_rates():
    default = costs.cost_table({"job": 3600.0})
    assert set(default["instance"]) == set(costs.HOURLY_RATES)
    row = default.set_index("instance").loc["ml.m5.xlarge"]
    assert row["on_demand_usd"] == pytest.approx(costs.HOURLY_RATES["ml.m5.xlarge"])
    assert row["spot_usd"] == pytest.approx(row["on_demand_usd"] * (1 - costs.SPOT_SAVINGS))
    assert "third-party" in costs.RATES_SOURCE


def test_questions_cite_measurements():
    q2 = questions.get("ch02_small_data")
    evidence = {"fe_acc": 0.8, "fe_seconds": 10, "ch02_scratch_acc": 0.2,
                "ch02_scratch_seconds": 60, "ft_acc": 0.7, "single_lr_acc": 0.5,
                "group_lr_acc": 0.7}
    good = check_answer(q2, q2.answer, evidence)
    assert good.correct and "80%" in good.message and "20%" in good.message
    single_rate = next(k for k, v in q2.options.items() if "one high learning rate" in v)
    bad = check_answer(q2, single_rate, evidence)
    assert not bad.correct and "50%" in bad.message
    q3 = questions.get("cats_notes")
    evidence = {"acc_A": 0.2, "acc_B": 0.6, "acc_C": 0.7, "acc_D": 0.15}
    assert check_answer(q3, "C", evidence).correct
    feedback = check_answer(q3, "D", evidence)
    assert not feedback.correct and "15%" in feedback.message
    with pytest.raises(ValueError):
        check_answer(q3, "C", {})  # the explanation needs the measured values


def test_every_question_is_well_formed():
    bank = questions.all_questions()
    assert bank and all(isinstance(q, Question) for q in bank)
    for q in bank:
        assert q.answer in q.options and len(q.options) == 4
        assert q.explanation
