"""Outcomes of chapter 03 (how to initialise the network), from the notebook's metrics."""

import pytest

pytestmark = pytest.mark.notebook


def test_pretrained_body_with_new_head_wins(executed):
    m = executed("03")
    acc = m["acc"]
    assert m["table"]["C"]["n"] >= 3
    # C beats A and D at equal budget, by a margin that held on every seed we tried
    assert acc["C"] > acc["A"] + 0.25, acc
    assert acc["C"] > acc["D"] + 0.25, acc


def test_option_b_shape_mismatch_is_explained(executed):
    m = executed("03")
    assert "1000 units" in m["mismatch"]
    assert "size mismatch" in m["mismatch"]  # PyTorch's own words, from load_state_dict
    assert len(set(unit for unit, _ in m["imagenet_rows"].values())) == len(m["imagenet_rows"])


def test_head_initialisation(executed):
    m = executed("03")
    init = m["head_init"]
    linear = [v for k, v in init.items() if k.startswith("linear")]
    assert max(linear) - min(linear) < 0.15, init  # a linear head hardly cares
    mlp_zeros = next(v for k, v in init.items() if "MLP" in k and k.endswith("zeros"))
    mlp_default = next(v for k, v in init.items() if "MLP" in k and k.endswith("default"))
    assert mlp_zeros < m["chance"] + 0.1 < mlp_default, init  # zeros never break symmetry
