"""utils.sagemaker_builtin: the built-in image classification algorithm's configuration."""

import pytest

from utils.sagemaker_builtin import builtin_hyperparameters, check_incremental, lst_lines


def test_transfer_mode_hyperparameters_are_strings():
    hp = builtin_hyperparameters(num_classes=12, num_training_samples=1680, epochs=10,
                                 learning_rate=0.01)
    assert hp == {"use_pretrained_model": "1", "num_layers": "18", "image_shape": "3,224,224",
                  "num_classes": "12", "num_training_samples": "1680", "epochs": "10",
                  "learning_rate": "0.01", "mini_batch_size": "32", "resize": "256"}


def test_constraints_of_the_transfer_mode():
    common = {"num_classes": 5, "num_training_samples": 100, "epochs": 1, "learning_rate": 0.1}
    for depth in (18, 34, 50, 101, 152, 200):
        assert builtin_hyperparameters(**common, num_layers=depth)["num_layers"] == str(depth)
    with pytest.raises(ValueError, match="num_layers must be one of"):
        builtin_hyperparameters(**common, num_layers=20)
    with pytest.raises(ValueError, match="3,224,224"):
        builtin_hyperparameters(**common, image_size=150)
    scratch = builtin_hyperparameters(**common, use_pretrained_model=0, num_layers=20,
                                      image_size=32)  # small images: only from scratch
    assert scratch["image_shape"] == "3,32,32" and scratch["use_pretrained_model"] == "0"
    with pytest.raises(ValueError, match="0 or 1"):
        builtin_hyperparameters(**common, use_pretrained_model=2)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        builtin_hyperparameters(**{**common, "num_classes": 1})
    with pytest.raises(ValueError, match="learning_rate"):
        builtin_hyperparameters(**{**common, "learning_rate": 1.5})


def test_lst_lines_are_index_label_relative_path(tmp_path):
    samples = [(str(tmp_path / "rose" / "a.jpg"), 0), (str(tmp_path / "tulip" / "b.jpg"), 1)]
    assert lst_lines(samples, tmp_path) == ["0\t0\trose/a.jpg", "1\t1\ttulip/b.jpg"]


def test_resize_follows_the_fact_sheet_rule():
    """resize is required for jpg/png (.lst) input and larger than image_shape's sides."""
    common = {"num_classes": 5, "num_training_samples": 100, "epochs": 4, "learning_rate": 0.1}
    for kwargs in ({}, {"resize": 300}, {"use_pretrained_model": 0, "num_layers": 20,
                                         "image_size": 32}):
        hp = builtin_hyperparameters(**common, **kwargs)
        _, height, width = (int(v) for v in hp["image_shape"].split(","))
        assert int(hp["resize"]) > max(height, width), hp
    for too_small in (224, 200):
        with pytest.raises(ValueError, match="larger than"):
            builtin_hyperparameters(**common, resize=too_small)
    # RecordIO needs no resize; an unknown format is refused
    assert "resize" not in builtin_hyperparameters(**common, input_format="recordio")
    with pytest.raises(ValueError, match="input_format"):
        builtin_hyperparameters(**common, input_format="jpg")


def test_optional_knobs_are_written_only_when_set_and_checked():
    common = {"num_classes": 5, "num_training_samples": 100, "epochs": 10, "learning_rate": 0.1}
    plain = builtin_hyperparameters(**common)
    assert not {"augmentation_type", "early_stopping", "checkpoint_frequency"} & set(plain)
    hp = builtin_hyperparameters(**common, augmentation_type="crop_color", early_stopping=True,
                                 checkpoint_frequency=5)
    assert (hp["augmentation_type"], hp["early_stopping"], hp["checkpoint_frequency"]) == (
        "crop_color", "true", "5")
    with pytest.raises(ValueError, match="augmentation_type"):
        builtin_hyperparameters(**common, augmentation_type="flip")
    with pytest.raises(ValueError, match="checkpoint_frequency"):
        builtin_hyperparameters(**common, checkpoint_frequency=11)


def test_incremental_training_needs_the_same_network():
    common = {"num_training_samples": 100, "epochs": 2, "learning_rate": 0.01}
    earlier = builtin_hyperparameters(num_classes=5, **common)
    check_incremental(earlier, builtin_hyperparameters(num_classes=5, epochs=3,
                                                       num_training_samples=150,
                                                       learning_rate=0.001))
    with pytest.raises(ValueError, match="num_classes"):
        check_incremental(earlier, builtin_hyperparameters(num_classes=6, **common))
    with pytest.raises(ValueError, match="num_layers"):
        check_incremental(earlier, builtin_hyperparameters(num_classes=5, num_layers=50,
                                                           **common))
