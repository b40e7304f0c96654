"""Four ways to initialise a network for a new task, written as ``state_dict`` surgery.

The exam question of chapter 03 (notebooks/03_initialising_the_network.ipynb): starting from
an ImageNet network, which weights do you load into which part of your classifier?

* ``"A"``: every weight random (train from scratch);
* ``"B"``: every weight pretrained, the output layer included (cut down to one ImageNet row
  per class, since the 1000-way layer does not fit);
* ``"C"``: pretrained body, new random output layer (the answer);
* ``"D"``: random body, pretrained output layer (the same rows as B).

Blocks marked "chapter 03" are the same code as that chapter's ``#| export`` cells; the exam
review (chapter 08) reads that chapter's measured results instead of recomputing them.
"""

from __future__ import annotations

import torch
from torch import nn

from . import features, models


# chapter 03
def pretrained_parts(backbone: str) -> tuple[dict, dict]:
    """The ImageNet weights under TransferModel's key names: (body's tensors, output layer's)."""
    net = models.imagenet_model(backbone)
    body, output_layer, _ = models.split_output_layer(net, backbone)
    body_state = {f"body.{key}": tensor for key, tensor in body.state_dict().items()}
    head_state = {f"head.{key}": tensor for key, tensor in output_layer.state_dict().items()}
    return body_state, head_state


# chapter 03
def imagenet_rows_for_classes(net: nn.Module, loader, num_classes: int,
                              device="cpu") -> list[int]:
    """For each class, the ImageNet unit that `net` favours on its images (each unit used once)."""
    scores, labels = features.embed(net, loader, device)  # the full network: (N, 1000) scores
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise ValueError(f"Classes {missing} have no images in the loader: cannot pick a row.")
    probs = scores.softmax(1)
    mean = torch.stack([probs[labels == c].mean(0) for c in range(num_classes)])  # (C, 1000)
    rows: dict[int, int] = {}
    for c in mean.max(1).values.argsort(descending=True).tolist():  # most confident class first
        ranked = mean[c].argsort(descending=True).tolist()
        rows[c] = next(unit for unit in ranked if unit not in rows.values())
    return [rows[c] for c in range(num_classes)]


# chapter 03
def initialise(option: str, *, num_classes: int, backbone: str = models.DEFAULT_BACKBONE,
               imagenet_rows: list[int] | None = None, seed: int = 0) -> models.TransferModel:
    """The network for one answer to the exam question (A, B, C or D), by state_dict surgery."""
    if option not in ("A", "B", "C", "D"):
        raise ValueError(f"Unknown option {option!r}: choose 'A', 'B', 'C' or 'D'.")
    model = models.create_model(num_classes, backbone=backbone, pretrained=False, seed=seed)
    if option == "A":
        return model  # every weight random
    body_state, head_state = pretrained_parts(backbone)
    if option in ("B", "D"):
        if imagenet_rows is None or len(imagenet_rows) != num_classes:
            raise ValueError(f"Option {option} needs imagenet_rows: one ImageNet unit per class "
                             f"({num_classes}), from imagenet_rows_for_classes.")
        head_state = {key: tensor[imagenet_rows] for key, tensor in head_state.items()}
    state = {"B": {**body_state, **head_state}, "C": body_state, "D": head_state}[option]
    model.load_state_dict(state, strict=option == "B")  # C and D: the part left out stays random
    return model
