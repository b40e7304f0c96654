"""utils.sagemaker_builtin: the built-in image classification algorithm's configuration."""

import pytest

from utils.sagemaker_builtin import builtin_hyperparameters, lst_lines


def test_transfer_mode_hyperparameters_are_strings():
    hp = builtin_hyperparameters(num_classes=12, num_training_samples=1680, epochs=10,
                                 learning_rate=0.01)
    assert hp == {"use_pretrained_model": "1", "num_layers": "18", "image_shape": "3,224,224",
                  "num_classes": "12", "num_training_samples": "1680", "epochs": "10",
                  "learning_rate": "0.01", "mini_batch_size": "32"}


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
