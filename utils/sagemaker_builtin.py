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
                            mini_batch_size: int = 32) -> dict[str, str]:
    """Hyperparameters of the built-in image classification algorithm, checked, as strings.

    use_pretrained_model=1 loads ImageNet weights and re-initialises only the top fully
    connected layer (the cat question's answer C); it allows only some depths and 224 x 224.
    """
    transfer_depths = (18, 34, 50, 101, 152, 200)  # ResNet depths with pretrained weights
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
    return {"use_pretrained_model": str(use_pretrained_model), "num_layers": str(num_layers),
            "image_shape": f"3,{image_size},{image_size}", "num_classes": str(num_classes),
            "num_training_samples": str(num_training_samples), "epochs": str(epochs),
            "learning_rate": str(learning_rate), "mini_batch_size": str(mini_batch_size)}


# chapter 05
def lst_lines(samples, root) -> list[str]:
    """The .lst file of the algorithm's image format: index, class label, relative path."""
    root = Path(root)
    return [f"{i}\t{label}\t{Path(path).relative_to(root).as_posix()}"
            for i, (path, label) in enumerate(samples)]
