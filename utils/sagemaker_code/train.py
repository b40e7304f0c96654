"""SageMaker script-mode entry point: train a species classifier on the ``training`` channel.

Where the network comes from
    With a ``detector`` channel (chapter 06's flow), the job starts from the organisation's
    existing flower detector: a course checkpoint (``utils.checkpoint.save_checkpoint``, the
    file chapter 05 writes). Its feature layers (the body) are kept and a new species head is
    trained on top; ``trainable_stages`` says how many of the body's top stages are fine-tuned
    too (0: the feature layers stay frozen). Without one, the job starts from the ImageNet
    network ``--backbone`` (EfficientNet-Lite0 by default; its weights ship in a pip package,
    so a job needs no download).

Run it anywhere::

    python train.py --training data/flowers --detector runs/05_flower_species/flower_detector.pt \
        --model_dir /tmp/model --epochs 3

and SageMaker runs it the same way, with the settings in ``SM_*`` environment variables.

Where the code comes from
    The job uploads this folder (``source_dir``). The script imports the course package
    ``utils`` (``utils.models``, ``utils.data``, ``utils.training``, ``utils.checkpoint``): the
    notebook copies ``utils/`` next to ``train.py`` before uploading, so it is importable from
    the script's own folder. Run from the repository (``utils/sagemaker_code/train.py``), the
    script adds the repository root to ``sys.path`` instead; it does nothing else to
    ``sys.path``.

How it was launched
    Two launchers start it (SDK v3 ``ModelTrainer`` jobs and tuning trials), with different
    spellings of the same hyperparameters; ``launchers.py`` reads them all into one
    ``argparse.Namespace`` (:func:`launchers.parse_args`, :data:`launchers.OPTIONS`: add a new
    hyperparameter there) and sets up data parallelism (:class:`launchers.Dist`).

Spot training
    A checkpoint (model, optimizer, scheduler, RNG states, epoch, history) is written to
    ``--checkpoint_dir`` (default ``/opt/ml/checkpoints``, the default ``LocalPath`` of the
    job's ``CheckpointConfig``, which SageMaker syncs to S3; SageMaker sets no variable for it,
    so a job with another ``LocalPath`` passes it as this hyperparameter) after every epoch, and
    the script resumes from it when it starts. Shuffling and augmentation are re-seeded from
    ``seed`` and the epoch number at the start of each epoch, so an interrupted and resumed run
    ends with the same weights as an uninterrupted one. ``--stop_after_epoch k`` simulates the
    interruption (for tests and demos). Inside a job the checkpoint goes to a sub-folder named
    after the job (``TRAINING_JOB_NAME``), because tuning trials share the tuner's checkpoint
    prefix; a checkpoint written with other hyperparameters is ignored with a warning instead of
    being resumed.

Precision
    ``--precision`` (default ``auto``; ``utils.precision.resolve_precision``): bf16 autocast on
    a GPU with bf16 (``ml.g5``, ``ml.p4d``...), and on a CPU with native bf16 for evaluation
    only (training stays fp32 there: bf16 fine-tuning cost accuracy); fp32 elsewhere
    (``ml.g4dn``'s T4 has no bf16: ``fp16`` is there for it, with a gradient scaler). The log
    says what it chose.

Data-parallel training
    Under ``torchrun`` or SageMaker's ``torch_distributed`` distribution (``WORLD_SIZE`` > 1),
    each process trains on its shard (``DistributedSampler``) of a ``DistributedDataParallel``
    model: gloo on CPU, nccl on GPU. ``batch_size`` is per process. Only rank 0 prints metrics
    and writes checkpoints and the model.

Outputs
    ``model_dir/model.pt``: the species model, a course checkpoint written by
    ``utils.checkpoint.save_checkpoint`` (``utils.checkpoint.load_checkpoint`` reads it;
    ``inference.py`` serves it) with the backbone, the class names and ``meta`` (image size,
    hyperparameters, history). Trained from a detector, ``meta["detector"]`` holds what the
    endpoint needs to answer "is there a flower?" as well: the detector's class names, its
    output layer (``head``) and whether the species model still has the detector's body
    (``shared_body``: the feature layers stayed frozen). When they did not, the detector's
    checkpoint is copied next to the model as ``model_dir/detector.pt``.
    ``model_dir/classes.json``: the label map. ``output_data_dir/metrics.json``: the history.
    Metric lines: see ``metrics.py``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _make_utils_importable() -> None:
    """Inside the repository (utils/sagemaker_code/train.py) put the repository root on the path.

    In a job, ``utils/`` sits next to this file, which Python already puts on ``sys.path``.
    """
    root = HERE.parent.parent
    if HERE.parent.name == "utils" and (root / "utils" / "models.py").is_file():
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


_make_utils_importable()

try:  # imported as utils.sagemaker_code.train (tests, notebook)
    from .launchers import Dist, channels, parse_args
    from .metrics import format_metrics
except ImportError:  # run as a script: this folder is on sys.path
    from launchers import Dist, channels, parse_args
    from metrics import format_metrics

# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

CHECKPOINT_NAME = "checkpoint.pt"
DETECTOR_FILE = "detector.pt"


class SettingsError(ValueError):
    """Settings the model cannot be built with (unknown backbone, too many stages to train)."""


def log(message: str, dist: Dist | None = None) -> None:
    if dist is None or dist.is_main:
        print(message, flush=True)


def load_data(args):
    """``(classes, train samples, val samples, test samples)`` from the channels."""
    from utils.data import DataError, load_image_folder, scan_image_folder

    training = Path(args.training)
    if not training.is_dir():
        raise DataError(
            f"The training channel {str(training)!r} does not exist. Pass an S3 prefix (or local "
            "folder) holding <class>/<image> sub-folders as the 'training' input channel."
        )
    if args.validation:
        classes, train, _ = scan_image_folder(training)
        val_classes, val, _ = scan_image_folder(args.validation)
        unknown = sorted(set(val_classes) - set(classes))
        if unknown:
            raise DataError(f"The validation channel has classes not in training: {unknown}")
        val = [(p, classes.index(val_classes[y])) for p, y in val]
        return classes, train, val, []
    splits = load_image_folder(training, args.val_fraction, args.test_fraction, args.seed)
    return splits.classes, splits.train, splits.val, splits.test


def find_checkpoint(location) -> Path:
    """The detector checkpoint: ``location`` itself, or the one ``.pt`` file in that folder."""
    from utils.data import DataError

    location = Path(location)
    if location.is_file():
        return location
    found = sorted(location.rglob("*.pt")) if location.is_dir() else []
    if len(found) != 1:
        raise DataError(
            f"The detector channel {str(location)!r} should hold exactly one .pt checkpoint "
            f"(utils.checkpoint.save_checkpoint's format); found {len(found)}."
        )
    return found[0]


def build_model(args, num_classes: int):
    """``(model to train, detector or None)``: the detector's body with a new species head, or
    the ImageNet network's; then :func:`utils.models.freeze` with ``trainable_stages``."""
    from utils.checkpoint import load_checkpoint
    from utils.models import create_model, freeze

    detector = None
    if args.detector:
        path = find_checkpoint(args.detector)
        try:
            detector, detector_classes, _ = load_checkpoint(path)
        except ValueError:  # not a course checkpoint (torch's own message runs many lines)
            raise SettingsError(
                f"the detector channel holds {path.name}, which is not a course checkpoint "
                "(one written by utils.checkpoint.save_checkpoint).") from None
        if "flower" not in detector_classes:
            raise SettingsError(f"the detector {path.name} has outputs {detector_classes}; a "
                                "flower detector needs a 'flower' output.")
        detector.classes = detector_classes
        args.backbone = detector.backbone  # the body decides the architecture and transform
    try:
        if detector is not None:
            # the same architecture with random weights (nothing to download), then the
            # detector's body: its feature layers, exactly as the organisation trained them
            model = create_model(num_classes, backbone=detector.backbone, pretrained=False,
                                 seed=args.seed)
            model.body.load_state_dict(detector.body.state_dict())
        else:
            model = create_model(num_classes, backbone=args.backbone, seed=args.seed)
        return freeze(model, args.trainable_stages), detector
    except ValueError as err:  # an unknown backbone, more stages than the body has
        raise SettingsError(str(err)) from None


def same_weights(a, b) -> bool:
    """Whether two modules hold exactly the same parameters and buffers."""
    import torch

    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def save_atomically(obj, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_states() -> dict:
    import numpy as np
    import torch

    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    import numpy as np
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_epoch(seed: int, epoch: int, rank: int) -> int:
    """The seed of one epoch on one process: the same whether or not the run was resumed."""
    import numpy as np
    import torch

    epoch_seed = seed * 100_003 + epoch * 1009 + rank
    random.seed(epoch_seed)
    np.random.seed(epoch_seed % 2**32)
    torch.manual_seed(epoch_seed)
    return epoch_seed


def train(args, dist: Dist) -> dict:
    """Train (resuming from a checkpoint if there is one); returns the final metrics."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, DistributedSampler

    from utils.checkpoint import make_transform, save_checkpoint
    from utils.data import ImageListDataset
    from utils.models import parameter_groups, train_mode
    from utils.precision import resolve_precision
    from utils.training import evaluate, make_loader, set_seed, train_one_epoch

    classes, train_samples, val_samples, test_samples = load_data(args)
    log(f"data: {len(classes)} classes, train={len(train_samples)} val={len(val_samples)} "
        f"test={len(test_samples)} world_size={dist.world_size} device={dist.device}", dist)
    # "auto": bf16 on a GPU with bf16, or on a CPU with native bf16 (training: large images)
    try:
        train_precision = resolve_precision(args.precision, device=dist.device,
                                            image_size=args.image_size, training=True)
        eval_precision = resolve_precision(args.precision, device=dist.device)
    except ValueError as err:  # an unknown precision, fp16 without a GPU
        raise SettingsError(str(err)) from None
    scaler = torch.amp.GradScaler("cuda") if train_precision == "fp16" else None
    log(f"precision {args.precision!r}: training {train_precision}, evaluation "
        f"{eval_precision}", dist)

    set_seed(args.seed)
    model, detector = build_model(args, len(classes))
    if detector is not None:
        log(f"starting from the detector {args.detector} ({detector.backbone}, outputs "
            f"{detector.classes}): its body, a new {len(classes)}-species head, "
            f"trainable_stages={args.trainable_stages}", dist)
    # channels_last from the start: evaluate() converts the model to it, so a run resumed from
    # a checkpoint must train in the same memory format as an uninterrupted one
    model.to(dist.device, memory_format=torch.channels_last)
    lr_body = args.lr / 10 if args.lr_body is None else args.lr_body
    optimizer = torch.optim.AdamW(parameter_groups(model, args.lr, lr_body),
                                  weight_decay=args.weight_decay)
    train_set = ImageListDataset(train_samples, make_transform(
        args.image_size, train=True, backbone=args.backbone, augment=args.augment))
    eval_transform = make_transform(args.image_size, train=False, backbone=args.backbone)
    sampler = DistributedSampler(train_set, num_replicas=dist.world_size, rank=dist.rank,
                                 shuffle=True, seed=args.seed, drop_last=False)
    steps_per_epoch = -(-len(sampler) // args.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           args.epochs * steps_per_epoch)

    # ---- resume ----
    # one sub-folder per job: tuning trials can share one checkpoint S3 prefix, and a spot
    # job that SageMaker restarts keeps its name, so it finds its own checkpoint again
    checkpoint_path = Path(args.checkpoint_dir) / os.environ.get("TRAINING_JOB_NAME", "") \
        / CHECKPOINT_NAME
    start_epoch, history = 1, []
    state = None
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=dist.device, weights_only=False)
        changed = different_settings(state.get("hyperparameters", {}), hyperparameters(args))
        if changed:  # e.g. tuning trials that share one checkpoint prefix
            log(f"ignoring the checkpoint in {checkpoint_path}: it was written with other "
                f"settings ({', '.join(changed)}); training from the start", dist)
            state = None
    if state is not None:
        if state["classes"] != classes:
            raise RuntimeError(
                f"The checkpoint in {str(checkpoint_path)!r} was trained on other classes "
                f"({state['classes']}); empty the checkpoint directory to start afresh."
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):  # fp16: the loss scale it had reached
            scaler.load_state_dict(state["scaler"])
        set_rng_states(state["rng"])
        start_epoch, history = state["epoch"] + 1, state["history"]
        if state.get("epochs") != args.epochs:
            log(f"warning: the checkpoint was for {state.get('epochs')} epochs, now "
                f"{args.epochs}; the learning-rate schedule keeps its old length", dist)
        log(f"resumed from the checkpoint of epoch {state['epoch']} ({checkpoint_path})", dist)
    if not dist.same_everywhere(start_epoch):
        raise RuntimeError("The processes found different checkpoints: every host needs the "
                           "same checkpoint directory contents.")

    net = model
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)

    for epoch in range(start_epoch, args.epochs + 1):
        start = time.perf_counter()
        seed_epoch(args.seed, epoch, dist.rank)
        sampler.set_epoch(epoch)
        loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler,
                            num_workers=args.num_workers,
                            generator=torch.Generator().manual_seed(args.seed + epoch),
                            pin_memory=dist.device.type == "cuda")
        train_mode(net)  # frozen BatchNorm layers stay in eval mode
        mean_loss, accuracy = train_one_epoch(net, loader, optimizer, scheduler, dist.device,
                                              train_precision, scaler)
        # train_one_epoch averaged over this process's shard: exactly len(sampler) images (the
        # loader keeps the last partial batch). Back to sums, then summed over the processes.
        seen = len(sampler)
        total_loss, correct, seen = dist.sum(mean_loss * seen, round(accuracy * seen), seen)
        record = {"epoch": epoch, "train_loss": total_loss / seen, "train_acc": correct / seen}
        if dist.is_main and val_samples:
            result = evaluate(model, make_loader(ImageListDataset(val_samples, eval_transform),
                                                 batch_size=64), dist.device, eval_precision)
            record.update(val_loss=result.loss, val_acc=result.accuracy)
        record.update(lr=optimizer.param_groups[0]["lr"],
                      seconds=round(time.perf_counter() - start, 3))
        history.append(record)
        log(format_metrics(**{k: v for k, v in record.items() if k != "seconds"}), dist)
        if dist.is_main:
            save_atomically({"epoch": epoch, "epochs": args.epochs, "classes": classes,
                             "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "rng": rng_states(),
                             "scaler": scaler.state_dict() if scaler is not None else None,
                             "history": history, "hyperparameters": hyperparameters(args)},
                            checkpoint_path)
        dist.barrier()
        if args.stop_after_epoch and epoch == args.stop_after_epoch and epoch < args.epochs:
            log(f"stopping after epoch {epoch} (--stop_after_epoch): run again to resume", dist)
            return {"stopped_after_epoch": epoch}

    final = {"epochs": args.epochs}
    if dist.is_main:
        val_accs = [r["val_acc"] for r in history if "val_acc" in r]
        if val_accs:
            final.update(best_val_acc=max(val_accs))
        if test_samples:
            result = evaluate(model, make_loader(ImageListDataset(test_samples, eval_transform),
                                                 batch_size=64), dist.device, eval_precision)
            final.update(test_loss=result.loss, test_acc=result.accuracy)
        log(format_metrics("final", **final), dist)
        model_dir = Path(args.model_dir)
        extra = {} if detector is None else {"detector": detector_meta(model.cpu(), detector)}
        save_checkpoint(model_dir / "model.pt", model.cpu(), classes,
                        image_size=args.image_size, hyperparameters=hyperparameters(args),
                        history=history, final=final, **extra)
        if detector is not None and not extra["detector"]["shared_body"]:
            # fine-tuned feature layers: "is there a flower?" needs the detector's own body
            save_checkpoint(model_dir / DETECTOR_FILE, detector, detector.classes,
                            image_size=args.image_size)
        (model_dir / "classes.json").write_text(json.dumps(classes, indent=1) + "\n")
        if args.output_data_dir:
            out = Path(args.output_data_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "metrics.json").write_text(
                json.dumps({"history": history, "final": final}, indent=1) + "\n")
        log(f"model written to {model_dir / 'model.pt'}", dist)
    dist.barrier()
    return final


def detector_meta(model, detector) -> dict:
    """What the endpoint needs to answer "is there a flower?" next to the species."""
    shared = same_weights(model.body, detector.body)  # frozen feature layers stay identical
    return {"classes": list(detector.classes), "backbone": detector.backbone,
            "head": {k: v.detach().cpu().clone() for k, v in detector.head.state_dict().items()},
            "shared_body": shared, "file": None if shared else DETECTOR_FILE}


#: Settings that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("use_spot", "stop_after_epoch", "num_workers", "device", "epochs")


def different_settings(saved: dict, current: dict) -> list[str]:
    """The settings (other than :data:`RESUMABLE_CHANGES`) in which two runs differ."""
    keys = (set(saved) | set(current)) - set(RESUMABLE_CHANGES)
    return sorted(k for k in keys if saved.get(k) != current.get(k))


def hyperparameters(args) -> dict:
    paths = ("model_dir", "training", "validation", "checkpoint_dir", "output_data_dir",
             "detector")
    return {k: v for k, v in vars(args).items() if k not in paths}


def _write_failure(message: str) -> None:
    """SageMaker shows the first line of ``/opt/ml/output/failure`` as the job's FailureReason."""
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if output_dir is None and Path("/opt/ml/output").is_dir():
        output_dir = "/opt/ml/output"
    if output_dir:
        try:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "failure").write_text(message + "\n")
        except OSError:
            pass


def main(argv=None) -> int:
    args, unknown = parse_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)
    from utils.data import DataError
    from utils.models import WeightsUnavailableError

    dist = Dist(args.device)
    known = {"training", "validation", "train", "val", "detector"}
    ignored = [c for c in channels() if c not in known]
    log(f"settings: {json.dumps(hyperparameters(args))}", dist)
    log(f"training={args.training} validation={args.validation} detector={args.detector} "
        f"model_dir={args.model_dir} checkpoint_dir={args.checkpoint_dir}"
        + (f" (ignoring channels: {', '.join(ignored)})" if ignored else ""), dist)
    try:
        train(args, dist)
    except (DataError, SettingsError, WeightsUnavailableError) as err:
        kind = ("Data" if isinstance(err, DataError)
                else "Settings" if isinstance(err, SettingsError) else "Weights")
        message = f"{kind} error: {err}"
        print(f"ERROR: {message}", file=sys.stderr, flush=True)
        if dist.is_main:
            _write_failure(message)
        return 2
    finally:
        dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
