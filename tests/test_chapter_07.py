"""Outcomes of chapter 07 (three applications of transfer learning), from its metrics."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook


def test_transfer_beats_scratch_in_every_application(executed):
    cases = executed("07")["cases"]
    assert set(cases) == {"defects", "plants", "radiographs"}
    for case, m in cases.items():
        # the same images and seeds; from scratch even got more compute (every layer, epochs)
        assert m["transfer"] > m["scratch"] + 0.25, (case, m)
        assert m["transfer"] > m["chance"] + 0.3, (case, m)
        assert m["scratch_s"] > m["transfer_s"], (case, m)
        assert Path(m["detector_checkpoint"]).is_file()  # the existing model, kept


def test_domain_gap_shows_as_numbers(executed):
    m = executed("07")
    cases, reference = m["cases"], m["reference_shift"]
    radiographs = cases["radiographs"]
    # the grey radiographs sit furthest from ImageNet, as the BatchNorm statistics see it ...
    assert radiographs["bn_shift"] > reference["real photos"] + 0.05, (radiographs, reference)
    assert radiographs["bn_shift"] > max(cases["defects"]["bn_shift"],
                                         cases["plants"]["bn_shift"]), cases
    # ... and there the pretrained features add least over a pixel baseline
    assert (radiographs["transfer_minus_pixels"]
            < cases["defects"]["transfer_minus_pixels"] - 0.15), cases


def test_from_scratch_catches_up_with_plentiful_data(executed):
    p = executed("07")["plentiful"]
    custom, transfer = p["custom_cnn"], p["transfer"]
    assert transfer[0] > custom[0] + 0.2, p  # few images: transfer far ahead
    # more data helps the network designed for the task much more than it helps transfer
    assert custom[-1] - custom[0] > (transfer[-1] - transfer[0]) + 0.15, p


def test_from_scratch_overfits_more_than_transfer(executed):
    """Section 3b: the train - held-out gap of every layer from random weights vs a new head."""
    over = executed("07")["overfitting"]
    assert set(over) == {"defects", "plants", "radiographs"}
    scratch = [arms["from scratch (every layer)"] for arms in over.values()]
    transfer = [arms["transfer (new head only)"] for arms in over.values()]
    mean_gap = [sum(a["gap"] for a in arm) / len(arm) for arm in (scratch, transfer)]
    assert mean_gap[0] > mean_gap[1] + 0.1, over
    # the head on pretrained features generalises better from the same images
    for s, t in zip(scratch, transfer, strict=True):
        assert t["held-out accuracy"] > s["held-out accuracy"], over
