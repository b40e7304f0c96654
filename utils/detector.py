"""A general detector extended by transfer: chapter 05's recipe for building the detector.

Chapter 05 plays an organisation that already owns a flower detector; chapters 06 and 07 need the
same detector (or the same kind of detector for other images) and build it with this one
function. Blocks marked "chapter NN" are that chapter's ``#| export`` cells.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import checkpoint, data, features, models, training
from .features import ProbeResult
from .models import TransferModel
from .training import FitResult


# chapter 05
@dataclass
class Detector:
    """A trained detector and how it got there."""

    model: TransferModel
    probe: ProbeResult  # step 1: its new head, trained on the frozen body's features
    fit: FitResult  # step 2: the top stages fine-tuned from that head
    test_acc: float
    seconds: float  # both steps (the test is not counted)


# chapter 05
def train_detector(splits: data.DatasetSplits, *, backbone: str, image_size: int,
                   head_epochs: int, epochs: int, stages: int, batch_size: int, seed: int,
                   device="cpu", augment: bool = True, keep_best: bool = True) -> Detector:
    """Chapter 04's recipe: ImageNet body, a new head trained on its frozen features
    (`linear_probe`), then the top `stages` fine-tuned from that head for `epochs`.

    `augment=False` trains on the plain resize-and-crop; `keep_best=False` keeps the last
    epoch, so that the body is the detector's own even if validation did not improve.
    """
    start = time.perf_counter()
    model = models.freeze(models.create_model(len(splits.classes), backbone=backbone,
                                              seed=seed), 0)
    plain = checkpoint.make_transform(image_size, backbone=backbone)
    probe = features.linear_probe(model.body, splits, transform=plain, device=device,
                                  epochs=head_epochs, seed=seed)
    model.head.load_state_dict(probe.head.state_dict())  # put the trained head on the body
    models.freeze(model, stages)
    augmented = checkpoint.make_transform(image_size, train=augment, backbone=backbone)

    def loader(samples, transform, shuffle=False):
        dataset = data.ImageListDataset(samples, transform,
                                        presize=data.presize_for(image_size, backbone))
        return training.make_loader(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed)

    training.set_seed(seed)
    fitted = training.fit(model, loader(splits.train, augmented, shuffle=True),
                          loader(splits.val, plain), epochs=epochs, lr_head=1e-3, lr_body=1e-4,
                          keep_bn_stats=True, keep_best=keep_best, device=device,
                          desc="detector")
    seconds = time.perf_counter() - start
    test_acc = training.evaluate(model, loader(splits.test, plain), device).accuracy
    return Detector(model, probe, fitted, test_acc, seconds)
