"""The benchmark harness computes ratios and renders them (no timing assertions here)."""

import pytest
import torch
from PIL import Image

from benchmarks import run


def test_limits_are_positive_throughputs():
    cpu = torch.device("cpu")
    assert run.forward_limit(32, 2, cpu) > 0
    assert run.train_limit(32, 2, cpu) > 0


def test_markdown_table_reports_ratios():
    results = {
        "machine": "m", "device": "cpu", "cpu_cores": 2, "torch": "x", "batch": 32,
        "sizes": [{"data": "synthetic PNG", "images": 204, "size": 128, "forward_limit": 100.0,
                   "train_limit": 30.0, "pipeline": 90.0, "pipeline_ratio": 0.9,
                   "pipeline_decoded": 95.0, "pipeline_decoded_ratio": 0.95,
                   "finetune_first": 12.0, "finetune": 24.0, "finetune_ratio": 0.8},
                  {"data": "flowers17 (real JPEG)", "images": 340, "size": 224,
                   "forward_limit": 100.0, "train_limit": 30.0, "pipeline": 90.0,
                   "pipeline_ratio": 0.9, "pipeline_decoded": 95.0,
                   "pipeline_decoded_ratio": 0.95, "finetune_first": 12.0, "finetune": 27.0,
                   "finetune_ratio": 0.9}],
        "workers": {"size": 128, "num_workers": 1, "images_per_s": 50.0, "ratio": 0.5,
                    "in_process_ratio": 0.9},
        "cache": {"images": 200, "size": 128, "first_run_s": 10.0, "second_run_s": 0.5,
                  "cache_speedup": 20.0},
        "layout": {"size": 224, "channels_last": 46.0, "contiguous": 25.0},
        "tests_s": 600.0,
    }
    table = run.markdown(results)
    assert "| synthetic PNG (204) | 128 | 100 | 30.0 | 90 | 0.90 | 0.95 | 12.0 | 24.0 | 0.80 |" \
        in table
    assert "| flowers17 (real JPEG) (340) | 224 |" in table
    # the targets: 0.75 of the forward limit at 128 px, 0.85 at 224, 0.85 for fine-tuning
    assert "Missed in this run: synthetic PNG at 128 px: fine-tune 0.800 < 0.85." in table
    assert "`num_workers=1`" in table and "0.50 of the limit; in-process: 0.90" in table
    assert "20x faster" in table and "Test suite: 10.0 min" in table
    assert "bf16 figures not measured" in table


def test_pipeline_times_cold_and_decoded_extraction_against_the_limit(tmp_path):
    cpu = torch.device("cpu")
    out = run.pipeline(32, 8, cpu, n_per_class=10, workers=0, root=tmp_path, repeats=1,
                       compare_workers=1)
    assert out["images"] == len(out["splits"].train) + len(out["splits"].val)
    for key in ("forward_limit", "extract_images_per_s", "extract_decoded_images_per_s",
                "compare_workers_images_per_s", "cache_speedup"):
        assert out[key] > 0


def test_finetune_is_timed_with_its_limit(tmp_path):
    cpu = torch.device("cpu")
    splits = run.data.load_dataset("synthetic_flowers", data_root=tmp_path, render_size=32,
                                   n_per_class=10, seed=0)
    out = run.finetune_throughput(splits, 32, 8, cpu, workers=0, repeats=1)
    assert out["train_limit"] > 0 and out["first_epoch"] > 0 and out["finetune"] > 0


def test_without_shared_photos_the_jpeg_rows_use_synthetic_jpeg_files(tmp_path, monkeypatch):
    """A learner's clone has no ../shared: the JPEG rows fall back to generated JPEG files
    (not PNG), and say so."""
    monkeypatch.setattr(run, "SHARED_PHOTOS", tmp_path / "absent")
    sets = run.jpeg_sets(tmp_path, n_per_class=2)
    (label, splits), = sets.items()
    assert label.startswith("synthetic JPEG")
    assert len(splits.train) == 2 * len(splits.classes)
    assert all(path.endswith(".jpg") for path, _ in splits.train)
    with run.data.Image.open(splits.train[0][0]) as image:
        assert image.format == "JPEG" and min(image.size) == 500


def test_shared_photos_are_capped_per_class(tmp_path, monkeypatch):
    from PIL import Image

    for name in ("flowers17", "cats12_sample"):
        for cls in ("a", "b"):
            (tmp_path / name / cls).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (40, 30), (i * 60, 0, 0)).save(tmp_path / name / cls / f"{i}.jpg")
    monkeypatch.setattr(run, "SHARED_PHOTOS", tmp_path)
    sets = run.jpeg_sets(tmp_path / "scratch", n_per_class=2)
    assert sorted(sets) == ["cats12_sample (real JPEG)", "flowers17 (real JPEG)"]
    assert all(len(s.train) == 4 and not s.val and not s.test for s in sets.values())


def test_real_course_table_comes_from_the_executed_chapters(tmp_path):
    """Every figure of the README's real-photo table is read from a run, never typed."""
    import json

    from benchmarks import real_course

    nb = {"cells": [], "metadata": {"papermill": {
        "duration": 250.0, "parameters": {"data_dir": "/x/cats12_sample", "image_size": 224}}}}
    (tmp_path / "04_cat_breeds.ipynb").write_text(json.dumps(nb))
    (tmp_path / "04_cat_breeds").mkdir()
    (tmp_path / "04_cat_breeds" / "metrics.json").write_text(json.dumps({
        "fe_test_acc": 0.889, "ft_test_acc": 0.903, "ft_best_epoch": 3,
        "resolution": [{"image size": 96, "test accuracy": 0.819}]}))
    table = real_course.markdown(real_course.rows(tmp_path), machine="m")
    assert ("| `04_cat_breeds` | cats12_sample | 224 | 4.2 min | feature extraction 88.9%, "
            "fine-tuning 90.3% (best epoch 3); feature extraction by size: 96 px 81.9% |") in table


def test_scaled_folder_links_every_photo_times_over(tmp_path):
    from benchmarks.scaled_folder import scale

    src = tmp_path / "src"
    for cls in ("a", "b"):
        (src / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(src / cls / "x.jpg")
    (src / "a" / "notes.txt").write_text("not a photo")
    assert scale(src, tmp_path / "big", times=3) == 6
    assert sorted(p.name for p in (tmp_path / "big" / "a").iterdir()) == [
        "c0_x.jpg", "c1_x.jpg", "c2_x.jpg"]
    assert scale(src, tmp_path / "flat", times=2, flat=True) == 4
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [
        "c0_a_x.jpg", "c0_b_x.jpg", "c1_a_x.jpg", "c1_b_x.jpg"]
    assert (tmp_path / "flat" / "c1_b_x.jpg").resolve() == (src / "b" / "x.jpg").resolve()


def test_limits_run_in_bf16():
    cpu = torch.device("cpu")
    assert run.forward_limit(32, 2, cpu, precision="bf16") > 0
    assert run.train_limit(32, 2, cpu, precision="bf16") > 0


def test_gpu_command_degrades_to_one_no_gpu_line(monkeypatch, capsys, tmp_path):
    from benchmarks import gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("no GPU:"), out
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written


def test_gpu_command_needs_photos_for_the_parity_sweep(capsys):
    from benchmarks import gpu

    with pytest.raises(SystemExit):
        gpu.main(["--parts", "photos"])
    assert "--photos" in capsys.readouterr().err


def test_gpu_markdown_reports_every_setting_and_the_best_ratio():
    from benchmarks import gpu

    rows = [{"size": 224, "batch": 128, "pass": kind, "setting": label,
             "images_per_s": base * factor}
            for kind, base in (("forward", 1000.0), ("fwd+bwd", 300.0))
            for (label, _, _), factor in zip(gpu.SETTINGS, (0.8, 1.0, 2.5, 2.4), strict=True)]
    results = {"environment": {"gpu": "NVIDIA H200", "gpu_memory_gb": 150.0,
                               "capability": "9.0", "driver": "580", "torch": "2.11",
                               "cuda": "13.0", "cudnn": 91000, "cpu_cores": 16},
               "limits": rows,
               "course": {"command": "-m course --test-parameters", "seconds": 120.0,
                          "returncode": 0, "last_line": "all 9 notebook(s) ran in 118 s"},
               "tests": {"command": "-m pytest -q -m notebook", "seconds": 150.0,
                         "returncode": 1, "last_line": "1 failed, 30 passed"}}
    text = gpu.markdown(results)
    assert "NVIDIA H200" in text and "driver 580" in text and "torch 2.11" in text
    assert "| 224 | forward | 800 | 1000 | 2500 | 2400 | x2.50 |" in text
    assert "| 224 | fwd+bwd | 240 | 300 | 750 | 720 | x2.50 |" in text
    assert "2.0 min, passed" in text and "FAILED (exit 1)" in text


def test_recipe_records_get_a_precision_column_and_a_parity_check(tmp_path):
    import json

    from benchmarks import recipes

    path = tmp_path / "runs.jsonl"
    base = {"data": "flowers17", "variant": "ft_bn_frozen", "image_size": 224, "epochs": 5,
            "val_acc": 0.9, "start_val_acc": 0.9, "best_epoch": 1, "seconds": 100.0,
            "val_curve": [0.9, 0.9], "train_images": 952, "classes": 17}
    lines = [{**base, "seed": s, "test_acc": a} for s, a in ((0, 0.95), (1, 0.96), (2, 0.97))]
    lines += [{**base, "seed": s, "test_acc": a, "seconds": 70.0, "precision": "auto",
               "forward_precision": "bf16", "train_precision": "bf16", "test_images": 204}
              for s, a in ((0, 0.96), (1, 0.95), (2, 0.98))]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))  # old records: no precision
    table = recipes.markdown(path)
    assert "| fp32 | 96.0% ± 1.0% |" in table
    assert "| auto (bf16) | 96.3% ± 1.5% |" in table
    p = recipes.parity(path).iloc[0]
    assert p["parity"] and p["speedup"] == pytest.approx(100 / 70, abs=1e-3)
    # a gap of two standard deviations and more than one test photo is no parity
    lines[-1]["test_acc"] = lines[-2]["test_acc"] = 0.90
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert not recipes.parity(path).iloc[0]["parity"]


def test_generated_blocks_live_in_the_docs_and_the_recipe_table_is_current(tmp_path):
    """Each benchmark writes its block into its docs page (not the README), and the recipe
    table there is what `python -m benchmarks.recipes --docs` writes from the records."""
    import shutil

    from benchmarks import blocks, recipes

    blocks_in = {"recipes": blocks.REAL_PHOTOS, "realcourse": blocks.REAL_PHOTOS,
                 "benchmarks": blocks.PERFORMANCE}
    readme = (blocks.DOCS.parent / "README.md").read_text()
    for name, page in blocks_in.items():
        assert f"<!-- {name}:start -->" in page.read_text(), (name, page)
        assert f"<!-- {name}:start -->" not in readme, name
    copy = tmp_path / "real-photos.md"
    shutil.copy(blocks.REAL_PHOTOS, copy)
    recipes.write_docs(copy)
    assert copy.read_text() == blocks.REAL_PHOTOS.read_text()
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- x:start -->\nold\n<!-- x:end -->\nafter\n")
    blocks.replace_block(page, "x", "new\n")
    assert page.read_text() == "before\n<!-- x:start -->\nnew\n<!-- x:end -->\nafter\n"
