"""How ``train.py`` was launched: its settings in every launcher's spelling, and its process
group.

SDK v3 ``ModelTrainer`` jobs start the script with the SDK's driver scripts; tuning trials
go through the container's ``sagemaker-training`` toolkit. They pass hyperparameters in a
different order and spelling (``--use_spot false`` vs ``--use_spot False``, ``-k`` vs
``--k``, ``SM_HP_BATCH_SIZE`` vs ``SM_HP_BATCH-SIZE``), and v3 adds the ``code`` and
``sm_drivers`` channels. So every option:

* accepts ``--batch_size``, ``--batch-size``, ``-batch_size`` and ``-batch-size``;
* defaults to ``SM_HP_<NAME>`` (either spelling), then to the ``SM_HPS`` JSON;
* reads booleans case-insensitively (``true/True/1/yes``);
* unknown arguments and channels are reported and ignored.

Precedence: command line, then ``SM_HP_*``, then ``SM_HPS``, then the other ``SM_*``
variables (paths), then the built-in default.

Data-parallel training: :class:`Dist` holds the rank, the world size and the process group
(``WORLD_SIZE`` > 1 under ``torchrun`` or SageMaker's ``torch_distributed``).
"""

from __future__ import annotations

import argparse
import json
import os

# --------------------------------------------------------------------------------------------
# Settings: command line, SM_HP_*, SM_HPS, SM_* paths
# --------------------------------------------------------------------------------------------

TRUE = {"true", "t", "yes", "y", "1", "on"}
FALSE = {"false", "f", "no", "n", "0", "off", "none", ""}


def _unquote(value):
    if isinstance(value, str):
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
    return value


def to_bool(value) -> bool:
    """``True``/``"true"``/``"False"``/``1``/... -> bool (case-insensitive)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(_unquote(value)).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def to_int(value) -> int:
    value = _unquote(value)
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(number)


def to_float(value) -> float:
    return float(_unquote(value))


def to_optional_float(value) -> float | None:
    value = _unquote(value)
    if value is None or str(value).lower() in ("", "none", "null"):
        return None
    return float(value)


def to_stages(value) -> int | str:
    """``"all"`` (full fine-tuning) or a number of top body stages to unfreeze."""
    value = _unquote(value)
    if str(value).lower() == "all":
        return "all"
    stages = to_int(value)
    if stages < 0:
        raise ValueError(f"expected 'all' or an integer >= 0, got {value!r}")
    return stages


def to_path(value) -> str | None:
    value = _unquote(value)
    return None if value in (None, "") else str(value)


# name: (converter, built-in default, SM_* variable used as default, help)
OPTIONS: dict[str, tuple] = {
    "backbone": (str, "efficientnet_lite0", None,
                 "pretrained network (utils.models.BACKBONES; torchvision ones download)"),
    "epochs": (to_int, 3, None, "number of epochs"),
    "lr": (to_float, 1e-3, None, "learning rate of the new head"),
    "lr_body": (to_optional_float, None, None, "learning rate of the body (default lr / 10)"),
    "weight_decay": (to_float, 1e-4, None, "AdamW weight decay"),
    "batch_size": (to_int, 32, None, "batch size per process"),
    "image_size": (to_int, 224, None, "input size in pixels"),
    "trainable_stages": (to_stages, 2, None, "'all' or how many top body stages train"),
    "seed": (to_int, 0, None, "seed for the head, the split, shuffling and augmentation"),
    "augment": (to_bool, True, None, "random crop + flip while training"),
    "val_fraction": (to_float, 0.15, None, "validation share if there is no validation channel"),
    "test_fraction": (to_float, 0.15, None, "test share if there is no validation channel"),
    "num_workers": (to_int, 0, None, "DataLoader worker processes"),
    "device": (str, "auto", None, "auto, cpu or cuda"),
    "precision": (str, "auto", None, "auto (bf16 where the hardware gains from it: "
                  "utils.precision), fp32, bf16, or fp16 (CUDA)"),
    "detector": (to_path, None, "SM_CHANNEL_DETECTOR",
                 "the existing model to start from: a course checkpoint file, or a folder (the "
                 "'detector' channel) holding one .pt file; its backbone replaces --backbone"),
    "use_spot": (to_bool, False, None, "informational: the script is the same with spot on/off"),
    "stop_after_epoch": (to_int, 0, None, "debug: exit after this epoch's checkpoint (0 = off)"),
    "model_dir": (to_path, "/opt/ml/model", "SM_MODEL_DIR", "where model.pt is written"),
    "training": (to_path, "/opt/ml/input/data/training", "SM_CHANNEL_TRAINING",
                 "ImageFolder of the training channel"),
    "validation": (to_path, None, "SM_CHANNEL_VALIDATION", "optional validation ImageFolder"),
    "checkpoint_dir": (to_path, "/opt/ml/checkpoints", None,
                       "per-epoch checkpoints (synced to S3 by SageMaker)"),
    "output_data_dir": (to_path, None, "SM_OUTPUT_DATA_DIR", "where metrics.json is written"),
}
ALIASES = {"train": "training", "val": "validation", "data_dir": "training"}
CHANNEL_FALLBACKS = {"training": "SM_CHANNEL_TRAIN", "validation": "SM_CHANNEL_VAL"}


def _normalise(name: str) -> str:
    name = name.strip().lstrip("-").lower().replace("-", "_")
    return ALIASES.get(name, name)


def _json_or_text(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value


def env_hyperparameters(environ=None) -> dict:
    """Hyperparameters from ``SM_HPS`` (JSON) overlaid with ``SM_HP_*`` (both spellings)."""
    environ = os.environ if environ is None else environ
    found = {}
    raw = environ.get("SM_HPS")
    if raw:
        hps = _json_or_text(raw)
        if isinstance(hps, dict):
            found.update({_normalise(k): v for k, v in hps.items()})
    for key, value in environ.items():
        if key.startswith("SM_HP_") and key != "SM_HPS":
            found[_normalise(key[len("SM_HP_"):])] = _json_or_text(value)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Fine-tune a pretrained network (SageMaker script mode).",
        allow_abbrev=False
    )
    for name, (_, default, env, help_text) in OPTIONS.items():
        dashed = name.replace("_", "-")
        flags = dict.fromkeys([f"--{name}", f"--{dashed}", f"-{name}", f"-{dashed}"])
        flags.update(dict.fromkeys(
            f"{p}{a}" for a, target in ALIASES.items() if target == name for p in ("--", "-")
        ))
        where = f"env {env}, " if env else ""
        parser.add_argument(*flags, dest=name, default=None,
                            help=f"{help_text} ({where}default {default!r})")
    return parser


def parse_args(argv=None, environ=None) -> tuple[argparse.Namespace, list[str]]:
    """Settings from the command line and the environment, converted and checked.

    Returns ``(settings, unknown arguments)``. Invalid values exit with a one-line message.
    """
    environ = os.environ if environ is None else environ
    parser = build_parser()
    cli, unknown = parser.parse_known_args(argv)
    hps = env_hyperparameters(environ)
    settings = {}
    for name, (convert, default, env, _) in OPTIONS.items():
        if name == "checkpoint_dir" and environ.get("SM_MODEL_DIR"):
            # /opt/ml/checkpoints (CheckpointConfig's default LocalPath) in the container's
            # /opt/ml, found from SM_MODEL_DIR (/opt/ml/model): SageMaker sets no variable for
            # the checkpoint folder itself
            default = os.path.join(os.path.dirname(environ["SM_MODEL_DIR"].rstrip("/")),
                                   "checkpoints")
        value = getattr(cli, name)
        if value is None:
            value = hps.get(name)
        if value is None and env:
            value = environ.get(env) or environ.get(CHANNEL_FALLBACKS.get(name, ""))
        if value is None:
            value = default
        try:
            settings[name] = None if value is None else convert(value)
        except (TypeError, ValueError) as err:
            parser.error(f"invalid value for {name}: {err}")
    if settings["model_dir"] and settings["model_dir"].startswith("s3://"):
        settings["model_dir"] = environ.get("SM_MODEL_DIR", OPTIONS["model_dir"][1])
    for name in ("epochs", "batch_size", "image_size"):
        if settings[name] < 1:
            parser.error(f"{name} must be at least 1, got {settings[name]}")
    return argparse.Namespace(**settings), unknown


def channels(environ=None) -> list[str]:
    """The channel names in ``SM_CHANNELS`` (JSON list or comma-separated), for the log."""
    environ = os.environ if environ is None else environ
    raw = _json_or_text(environ.get("SM_CHANNELS", "[]"))
    if isinstance(raw, str):
        raw = [c for c in raw.split(",") if c]
    return [str(c) for c in raw]


# --------------------------------------------------------------------------------------------
# Distributed helpers
# --------------------------------------------------------------------------------------------


class Dist:
    """Rank/world size, and the process group when ``WORLD_SIZE`` > 1."""

    def __init__(self, device_arg: str):
        import torch
        import torch.distributed as dist

        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = device_arg.startswith("cuda") or (
            device_arg == "auto" and torch.cuda.is_available())
        if use_cuda:
            gpus = torch.cuda.device_count()
            if self.local_rank >= gpus:  # torchrun --nproc-per-node larger than the GPUs
                raise RuntimeError(
                    f"Process LOCAL_RANK={self.local_rank} has no GPU of its own: this host has "
                    f"{gpus} GPU(s). Start at most {gpus} process(es) per host (SageMaker's "
                    "Torchrun starts one per GPU), or pass device=cpu.")
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu" if device_arg == "auto" else device_arg)
        self.enabled = self.world_size > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> list[float]:
        """Sum numbers over all processes."""
        if not self.enabled:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def same_everywhere(self, value: int) -> bool:
        """Whether every process holds the same integer."""
        if not self.enabled:
            return True
        import torch
        import torch.distributed as dist

        t = torch.tensor([value, -value], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t[0].item() == value and -t[1].item() == value

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


