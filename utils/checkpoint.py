"""What training and serving share: the preprocessing, and the checkpoint with its label map.

A model is only usable with the exact preprocessing it was trained with, so the transform and
the checkpoint loader live together here, in a module with no heavy imports (no scikit-learn,
no tqdm). The chapters, the SageMaker training script and the endpoint's ``inference.py`` all
import this one copy. Blocks marked "chapter NN" are that chapter's ``#| export`` cells.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms

from .models import DEFAULT_BACKBONE, TransferModel, create_model, preprocessing


# chapter 01
def make_transform(image_size: int = 128, *, train: bool = False, backbone: str = DEFAULT_BACKBONE,
                   augment: bool = True,
                   crop_scale: tuple[float, float] = (0.6, 1.0)) -> transforms.Compose:
    """Resize, crop and normalise as the pretrained weights expect; random crops for training.

    `crop_scale`: the smallest and largest share of the image's area a training crop keeps.
    """
    prep = preprocessing(backbone)  # the mean, std and interpolation it was trained with
    interpolation = transforms.InterpolationMode(prep.interpolation)
    if train and augment:
        steps = [transforms.RandomResizedCrop(image_size, scale=crop_scale,
                                              interpolation=interpolation),
                 transforms.RandomHorizontalFlip()]
    else:  # resize the short side to image_size / crop_pct, then keep the centre
        steps = [transforms.Resize(prep.resize_for(image_size), interpolation=interpolation),
                 transforms.CenterCrop(image_size)]
    return transforms.Compose([*steps, transforms.ToTensor(),
                               transforms.Normalize(prep.mean, prep.std)])


# chapter 04
def save_checkpoint(path, model: TransferModel, classes: list[str], **meta) -> Path:
    """Save the weights with everything needed to use them: backbone, class names, settings."""
    if len(classes) != model.head.out_features:
        raise ValueError(f"{len(classes)} class names for a head with "
                         f"{model.head.out_features} outputs: they must match one to one.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"backbone": model.backbone,  # which architecture (and preprocessing) to rebuild
                "classes": list(classes),  # the label map: output i is classes[i]
                "state_dict": model.state_dict(),  # every weight, body and head
                "meta": meta}, path)  # anything else worth keeping, e.g. the image size
    return path


# chapter 04
def load_checkpoint(path, device="cpu") -> tuple[TransferModel, list[str], dict]:
    """Rebuild the model from a checkpoint: (model in eval mode, class names, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}.")
    try:
        # weights_only: tensors and plain Python values only, never arbitrary pickled code
        state = torch.load(path, map_location=device, weights_only=True)
        classes = state["classes"]
        # every weight comes from the file: no pretrained download, works offline
        model = create_model(len(classes), backbone=state["backbone"], pretrained=False)
        model.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"{str(path)!r} is not a course checkpoint ({err}).") from err
    return model.eval().to(device), classes, state.get("meta", {})


# chapter 04
def predict(model: torch.nn.Module, image: Image.Image, transform, classes: list[str], *,
            k: int = 3, device="cpu") -> list[tuple[str, float]]:
    """The top-k (class name, probability) pairs for one PIL image."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"predict takes a PIL image, got {type(image).__name__}; open a file "
                        "with utils.data.load_rgb(path) first.")
    x = transform(image.convert("RGB")).unsqueeze(0).to(device)  # a batch of one image
    with torch.inference_mode():
        scores = model.eval().to(device)(x).float()
    probs = scores.softmax(1)[0].cpu()  # scores -> probabilities that sum to 1
    top = probs.topk(min(k, len(classes)))  # the k largest, largest first
    return [(classes[i], float(p)) for p, i in zip(top.values, top.indices, strict=True)]
