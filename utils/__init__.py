"""Shared code for the transfer-learning course.

Every notebook imports what it needs from here, so the chapters stay short and readable:

* :mod:`utils.models`: pretrained backbones, new heads, freezing and BatchNorm handling.
* :mod:`utils.data`: synthetic, downloaded and your own ImageFolder datasets, split and checked.
* :mod:`utils.synthetic`: the offline generator of flower, cat and non-flower images.
* :mod:`utils.features`: cached embeddings and linear heads (feature extraction).
* :mod:`utils.training`: the training loop, evaluation, checkpoints, prediction.
* :mod:`utils.plots`: the figures.
* :mod:`utils.env`: environment check and where-am-I helpers.
"""

__version__ = "0.1.0"
