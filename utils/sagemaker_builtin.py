"""SageMaker's built-in image classification algorithm, as the exam sees it (chapter 05).

The algorithm runs only on AWS (its container is AWS's, its training needs a GPU instance), so
the course cannot run it offline. What it can do is write its configuration correctly and check
it against the documented constraints, which is what these functions do. Facts come from AWS's
SageMaker developer guide (June 2023 snapshot: ``IC-Hyperparameter``, ``IC-HowItWorks``,
``image-classification``); re-check them on AWS's current pages.
"""

from __future__ import annotations

from pathlib import Path


# chapter 05
def builtin_hyperparameters(*, num_classes: int, num_training_samples: int, epochs: int,
                            learning_rate: float, use_pretrained_model: int = 1,
                            num_layers: int = 18, image_size: int = 224,
                            mini_batch_size: int = 32, input_format: str = "image",
                            resize: int | None = None, augmentation_type: str | None = None,
                            early_stopping: bool = False,
                            checkpoint_frequency: int | None = None) -> dict[str, str]:
    """Hyperparameters of the built-in image classification algorithm, checked, as strings.

    use_pretrained_model=1 loads ImageNet weights and re-initialises only the top fully
    connected layer (the cat question's answer C); it allows only some depths and 224 x 224.
    With jpg/png input (`input_format="image"`, the .lst format) `resize`, the shortest side
    after resizing, is required and must be larger than the image; by default it is the
    image size / 0.875 (256 for 224), the resize-then-centre-crop ratio of the course's own
    preprocessing. The optional settings are written only when set.
    """
    transfer_depths = (18, 34, 50, 101, 152, 200)  # ResNet depths with pretrained weights
    augmentations = ("crop", "crop_color", "crop_color_transform")
    if use_pretrained_model not in (0, 1):
        raise ValueError(f"use_pretrained_model is 0 or 1, got {use_pretrained_model!r}.")
    if use_pretrained_model and num_layers not in transfer_depths:
        raise ValueError(f"With use_pretrained_model=1, num_layers must be one of "
                         f"{transfer_depths}, got {num_layers}.")
    if use_pretrained_model and image_size != 224:
        raise ValueError("The pretrained networks need image_shape '3,224,224'; resize your "
                         f"images instead of asking for {image_size} x {image_size}.")
    if num_classes < 2 or num_training_samples < 1 or epochs < 1:
        raise ValueError(f"Need num_classes >= 2, num_training_samples >= 1 and epochs >= 1; "
                         f"got {num_classes}, {num_training_samples}, {epochs}.")
    if not 0 < learning_rate < 1:
        raise ValueError(f"learning_rate must be in (0, 1), got {learning_rate}.")
    if input_format not in ("image", "recordio"):
        raise ValueError(f"input_format is 'image' (jpg/png + .lst) or 'recordio', got "
                         f"{input_format!r}.")
    if resize is None and input_format == "image":
        resize = round(image_size / 0.875)  # required for jpg/png input
    if resize is not None and resize <= image_size:
        raise ValueError(f"resize (the shortest side after resizing) must be larger than the "
                         f"image_shape's {image_size} x {image_size}, got {resize}.")
    if augmentation_type not in (None, *augmentations):
        raise ValueError(f"augmentation_type is one of {augmentations} (or None: off), got "
                         f"{augmentation_type!r}.")
    if checkpoint_frequency is not None and not 0 < checkpoint_frequency <= epochs:
        raise ValueError(f"checkpoint_frequency must be between 1 and epochs ({epochs}), got "
                         f"{checkpoint_frequency}.")
    hp = {"use_pretrained_model": str(use_pretrained_model), "num_layers": str(num_layers),
          "image_shape": f"3,{image_size},{image_size}", "num_classes": str(num_classes),
          "num_training_samples": str(num_training_samples), "epochs": str(epochs),
          "learning_rate": str(learning_rate), "mini_batch_size": str(mini_batch_size)}
    optional = {"resize": resize, "augmentation_type": augmentation_type,
                "early_stopping": "true" if early_stopping else None,
                "checkpoint_frequency": checkpoint_frequency}
    return hp | {name: str(value) for name, value in optional.items() if value is not None}


# chapter 05
def lst_lines(samples, root) -> list[str]:
    """The .lst file of the algorithm's image format: index, class label, relative path."""
    root = Path(root)
    return [f"{i}\t{label}\t{Path(path).relative_to(root).as_posix()}"
            for i, (path, label) in enumerate(samples)]


# chapter 05
def check_incremental(earlier: dict[str, str], new: dict[str, str]) -> None:
    """Refuse an incremental-training job whose network does not match the earlier job's.

    The earlier job's model.tar.gz goes into a channel named `model`; `num_layers`,
    `image_shape` and `num_classes` must be the same in both jobs.
    """
    different = {key: (earlier.get(key), new.get(key))
                 for key in ("num_layers", "image_shape", "num_classes")
                 if earlier.get(key) != new.get(key)}
    if different:
        raise ValueError("Incremental training needs the earlier job's num_layers, image_shape "
                         "and num_classes; these differ (earlier, new): " + ", ".join(
                             f"{k} {v}" for k, v in different.items()))
