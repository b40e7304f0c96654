"""utils.initialisation: the four answers to the cat-breed question, as state_dict surgery."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from utils import initialisation, models


@pytest.fixture(scope="module")
def rows():
    torch.manual_seed(0)
    images, labels = torch.randn(12, 3, 32, 32), torch.arange(3).repeat(4)
    loader = DataLoader(TensorDataset(images, labels), batch_size=6)
    return initialisation.imagenet_rows_for_classes(models.imagenet_model(), loader, 3)


def test_pretrained_parts_name_every_tensor_of_the_model():
    body, head = initialisation.pretrained_parts(models.DEFAULT_BACKBONE)
    model = models.create_model(3, pretrained=False)
    assert set(body) | set(head) == set(model.state_dict())
    assert head["head.weight"].shape == (1000, 1280)


def test_rows_are_distinct_imagenet_units(rows):
    assert len(rows) == 3 and len(set(rows)) == 3 and all(0 <= r < 1000 for r in rows)


def test_a_class_without_images_is_a_clear_error():
    loader = DataLoader(TensorDataset(torch.randn(2, 3, 32, 32), torch.tensor([0, 0])))
    with pytest.raises(ValueError, match=r"\[1\]"):
        initialisation.imagenet_rows_for_classes(models.imagenet_model(), loader, 2)


def test_the_four_options(rows):
    body, head = initialisation.pretrained_parts(models.DEFAULT_BACKBONE)
    built = {o: initialisation.initialise(o, num_classes=3, imagenet_rows=rows, seed=0)
             for o in "ABCD"}
    stem = "body.conv_stem.weight"
    for option, pretrained_body in {"A": False, "B": True, "C": True, "D": False}.items():
        assert torch.equal(built[option].state_dict()[stem], body[stem]) == pretrained_body
    assert torch.equal(built["B"].head.weight, head["head.weight"][rows])
    assert torch.equal(built["B"].head.weight, built["D"].head.weight)
    assert not torch.equal(built["C"].head.weight, built["B"].head.weight)


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="imagenet_rows"):
        initialisation.initialise("B", num_classes=3)
    with pytest.raises(ValueError, match="Unknown option"):
        initialisation.initialise("E", num_classes=3)
