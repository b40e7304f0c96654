"""Outcomes of chapters 00 and 01, read from the metrics the notebooks write."""

import pytest

pytestmark = pytest.mark.notebook


def test_start_here_loads_the_offline_model(executed):
    metrics = executed("00")
    assert metrics["environment"]["missing"] == []
    assert metrics["logits_shape"][1] == 1000
    assert metrics["parameters"] > 4_000_000  # EfficientNet-Lite0 has 4.65 M parameters
    # (the forward pass's speed is printed and recorded for the reader, not asserted: it is
    # the machine's, not a lesson)
    # the notes' 2048-dimensional feature vector is ResNet-50's; ours is 1280 numbers long
    assert metrics["feature_dim"] == 1280 and metrics["resnet50_feature_dim"] == 2048


def test_imagenet_predictions_on_real_photos(executed):
    top5 = executed("01")["top5"]
    cat = [name for name, _ in top5["chelsea (cat)"][:3]]
    assert {"tabby", "tiger cat", "Egyptian cat"} & set(cat), cat
    assert top5["coffee"][0][0] == "espresso"
    assert top5["flower"][0][0] == "daisy"


def test_pretrained_embeddings_cluster_new_classes(executed):
    m = executed("01")
    # the lesson: pretrained >> random init, and colour alone is near chance
    assert m["knn_pretrained"] > m["knn_random"] + 0.25, m
    assert m["knn_pretrained"] > m["knn_color"] + 0.3, m
    assert m["knn_color"] < m["chance"] + 0.2, m


def test_the_pretrained_body_brings_its_own_cue_preference(executed):
    """Section 6: pretrained and random weights settle cue conflicts differently."""
    bias = executed("01")["bias"]
    for cue in ("shape vs texture", "shape vs colour"):
        assert abs(bias["pretrained"][cue] - bias["random weights"][cue]) > 0.2, bias
