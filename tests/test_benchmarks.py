"""The benchmark harness computes ratios and renders them (no timing assertions here)."""

import torch

from benchmarks import run


def test_limits_are_positive_throughputs():
    cpu = torch.device("cpu")
    assert run.forward_limit(32, 2, cpu) > 0
    assert run.train_limit(32, 2, cpu) > 0


def test_markdown_table_reports_ratios():
    results = {
        "machine": "m", "device": "cpu", "cpu_cores": 2, "torch": "x", "batch": 32,
        "sizes": [{"size": 128, "forward_limit": 100.0, "train_limit": 30.0, "pipeline": 90.0,
                   "pipeline_ratio": 0.9, "pipeline_decoded": 95.0,
                   "pipeline_decoded_ratio": 0.95, "finetune": 24.0, "finetune_ratio": 0.8}],
        "workers": {"size": 128, "num_workers": 1, "images_per_s": 50.0, "ratio": 0.5,
                    "in_process_ratio": 0.9},
        "cache": {"images": 200, "size": 128, "first_run_s": 10.0, "second_run_s": 0.5,
                  "cache_speedup": 20.0},
        "layout": {"size": 224, "channels_last": 46.0, "contiguous": 25.0},
        "tests_s": 600.0,
    }
    table = run.markdown(results)
    assert "| 128 | 100 | 30.0 | 90 | 0.90 | 0.95 | 24.0 | 0.80 |" in table
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
    splits = run.data.load_dataset("synthetic_flowers", data_root=tmp_path, image_size=32,
                                   n_per_class=10, seed=0)
    limit, fine = run.finetune_throughput(splits, 32, 8, cpu, workers=0, repeats=1)
    assert limit > 0 and fine > 0
