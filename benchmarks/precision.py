"""bf16 against fp32 on this machine: where "auto" should switch, and what it gains.

    python -m benchmarks.precision crossover --sizes 64 96 128 160 224 --rounds 3
    python -m benchmarks.precision targets --photos ../shared/data/cats12_sample

``crossover``: the backbone's forward and forward+backward throughput on random tensors
(``benchmarks.run``'s steps: channels_last, batch 32) in fp32 and in bf16 autocast, every step
of every size timed once per round, interleaved, best of ``--rounds``. The ratios behind
``utils.training.resolve_precision``'s rule (its docstring quotes them).

``targets``: issue 23's targets on real photos at 224 px, "auto" against fp32, interleaved:
feature extraction end to end (``utils.features.extract_features``: decode, resize, forward;
and again with the decoded images kept in memory) and one epoch of fine-tuning on presized
photos (``utils.training.train_one_epoch``, every layer trainable, the pretrained BatchNorm
statistics kept). Prints each ratio; the machine's load is printed too, because on a shared
machine only ratios mean anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from benchmarks.run import forward_step, interleaved_best, train_step
from utils import checkpoint, data, decoding, features, models, training


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(),
                                                                   os.cpu_count())


def best_seconds(steps: dict, rounds: int, clock=time.perf_counter) -> dict:
    """Best time of each step over ``rounds`` rounds, the steps interleaved in each round.

    ``clock=time.process_time`` counts the CPU time this process used instead of the wall
    time: on a machine shared with other busy processes (more runnable threads than cores) the
    wall time mostly measures the waiting, while the CPU time of a one-thread run still
    measures the work (``--threads 1 --clock cpu``).
    """
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            start = clock()
            step()
            best[name] = min(best[name], clock() - start)
    return best


def crossover(sizes, rounds: int = 3, batch: int = 32, device="cpu",
              clock=time.perf_counter) -> list[dict]:
    device = torch.device(device)
    steps = {}
    for size in sizes:
        for precision in ("fp32", "bf16"):
            steps[(size, "forward", precision)] = forward_step(size, batch, device,
                                                                precision=precision)
            steps[(size, "fwd+bwd", precision)] = train_step(size, batch, device,
                                                              precision=precision)
    for step in steps.values():
        step()  # warm-up
    best = best_seconds(steps, rounds, clock) if device.type == "cpu" else interleaved_best(
        steps, device, rounds)
    rows = []
    for size in sizes:
        for kind in ("forward", "fwd+bwd"):
            fp32, bf16 = best[(size, kind, "fp32")], best[(size, kind, "bf16")]
            rows.append({"size": size, "pass": kind, "fp32_img_s": batch / fp32,
                         "bf16_img_s": batch / bf16, "bf16_speedup": fp32 / bf16})
    return rows


def targets(photos: Path, *, size: int = 224, per_class: int = 8, rounds: int = 3,
            batch: int = 32, device="cpu", clock=time.perf_counter) -> dict:
    device = torch.device(device)
    auto_fwd = training.resolve_precision("auto", device=device)
    auto_train = training.resolve_precision("auto", device=device, image_size=size,
                                            training=True)
    splits = data.load_image_folder(photos, seed=0).subset(per_class, seed=0)
    samples = splits.train
    n = len(splits.classes)
    body = models.create_model(n).body
    tf = checkpoint.make_transform(size)

    def extract(precision, cold):
        if cold:
            decoding.clear_decoded_cache()
        features.extract_features(body, samples, tf, device, batch, use_cache=False,
                                  show_progress=False, precision=precision)

    train_tf = checkpoint.make_transform(size, train=True)
    train_tf.transforms[0].scale = (0.6, 1.0)
    ds = data.ImageListDataset(samples, train_tf, presize=data.presize_for(size))

    def epoch(precision):
        model = models.freeze(models.create_model(n, seed=0), "all")
        model.to(device, memory_format=torch.channels_last)
        loader = training.make_loader(ds, batch_size=batch, shuffle=True, seed=0)
        optimizer = torch.optim.AdamW(models.parameter_groups(model, 1e-3, 1e-4))
        models.train_mode(model, keep_bn_stats=True)
        training.train_one_epoch(model, loader, optimizer, None, device, precision)

    extract("fp32", True)
    extract(auto_fwd, False)  # warm-up, and every image decoded once
    epoch("fp32")  # warm-up: presizes every photo
    best = best_seconds({
        "extract cold fp32": lambda: extract("fp32", True),
        "extract cold auto": lambda: extract(auto_fwd, True),
        "extract decoded fp32": lambda: extract("fp32", False),
        "extract decoded auto": lambda: extract(auto_fwd, False),
    }, rounds, clock)
    best.update(best_seconds({"fine-tune fp32": lambda: epoch("fp32"),
                              "fine-tune auto": lambda: epoch(auto_train)},
                             max(2, rounds - 1), clock))
    return {"photos": str(photos), "images": len(samples), "size": size,
            "auto_forward": auto_fwd, "auto_training": auto_train,
            "seconds": best,
            "extract_cold_speedup": best["extract cold fp32"] / best["extract cold auto"],
            "extract_decoded_speedup": (best["extract decoded fp32"]
                                        / best["extract decoded auto"]),
            "finetune_speedup": best["fine-tune fp32"] / best["fine-tune auto"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("crossover", help="fp32 vs bf16 throughput at each size")
    c.add_argument("--sizes", nargs="+", type=int, default=[64, 96, 128, 160, 224])
    c.add_argument("--rounds", type=int, default=3)
    c.add_argument("--batch", type=int, default=32)
    t = sub.add_parser("targets", help="issue 23's targets on real photos")
    t.add_argument("--photos", type=Path, required=True)
    t.add_argument("--size", type=int, default=224)
    t.add_argument("--per-class", type=int, default=8)
    t.add_argument("--rounds", type=int, default=3)
    for p in (c, t):
        p.add_argument("--threads", type=int, default=None,
                       help="torch threads (default: PyTorch's choice)")
        p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                       help="cpu: time with the process's CPU time (a shared machine)")
    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    clock = time.process_time if getattr(args, "clock", "wall") == "cpu" else time.perf_counter
    print(f"{torch.get_num_threads()} thread(s), clock {getattr(args, 'clock', 'wall')}; "
          f"torch {torch.__version__}, {training.cpu_has_native_bf16()=}, "
          f"{torch.backends.cpu.get_cpu_capability()=}; {load()}", flush=True)
    start = time.perf_counter()
    if args.what == "crossover":
        for row in crossover(args.sizes, args.rounds, args.batch, clock=clock):
            print(f"{row['size']:4d} px {row['pass']:8s} fp32 {row['fp32_img_s']:7.1f} img/s, "
                  f"bf16 {row['bf16_img_s']:7.1f} img/s: x{row['bf16_speedup']:.2f}")
    else:
        out = targets(args.photos, size=args.size, per_class=args.per_class,
                      rounds=args.rounds, clock=clock)
        print(f"{out['images']} photos of {out['photos']} at {out['size']} px; auto = forward "
              f"{out['auto_forward']}, training {out['auto_training']}")
        for name, seconds in out["seconds"].items():
            print(f"  {name}: {seconds:.2f} s")
        print(f"feature extraction, decoding included: x{out['extract_cold_speedup']:.2f}; "
              f"images already decoded: x{out['extract_decoded_speedup']:.2f}; "
              f"fine-tuning epoch: x{out['finetune_speedup']:.2f}")
    print(f"took {time.perf_counter() - start:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
