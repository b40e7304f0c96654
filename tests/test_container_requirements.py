"""Opt-in: the SageMaker code with its requirements, in the PyTorch 2.6 containers' Python.

AWS's PyTorch 2.6 training and inference images (``framework_version="2.6"``,
``py_version="py312"`` in chapter 06) run Python 3.12 with torch 2.6.0 and torchvision 0.21.0,
and numpy, pandas, scikit-learn, Pillow and tqdm (``offline/aws_images.py``); neither ships
timm, so the endpoint and the jobs pip-install their requirements file at start. This test
builds that base once (a Python 3.12 virtual environment holding those packages from the
package registry: the "image"), then, as a container does at start, installs each requirements
file into a fresh environment layered on it, and checks that pip replaces none of the image's
packages and that the code runs there:

* training: ``requirements.txt``, then one epoch of ``train.py`` from a detector checkpoint;
* serving: ``requirements-inference.txt`` (timm only), then ``model_fn`` / ``input_fn`` /
  ``predict_fn`` / ``output_fn`` on the model that epoch wrote, whose answer must equal what
  the course's own environment computes from the same file.

The light form of this test, each requirements file read against the images' package lists
without installing anything, runs in every ``python -m pytest``
(``tests/test_sagemaker_workflow.py::test_requirements_add_only_what_the_aws_image_lacks``);
this one runs in ``.ci/compat``.

It needs a Python 3.12 interpreter and the registry, and it is slow the first time (PyPI's
torch 2.6.0 wheel for Linux is the CUDA build: about 3 GB with its NVIDIA libraries), so it runs
only when asked::

    COURSE_CONTAINER_TEST=1 python -m pytest tests/test_container_requirements.py -q

``COURSE_PYTHON312`` names the interpreter (default: ``python3.12`` on the PATH, or a pyenv
3.12); ``COURSE_CONTAINER_VENV`` the cached base environment (default:
``~/.cache/transfer-learning-course/py312-torch2.6``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH, TORCHVISION = "2.6.0", "0.21.0"  # what the PyTorch 2.6 images ship
#: the rest of what the images ship that the course imports (unpinned in AWS's Dockerfiles;
#: the training image installs numpy<2 for fastai)
IMAGE_EXTRAS = ("numpy<2", "pandas", "scikit-learn", "pillow", "tqdm")

pytestmark = pytest.mark.skipif(
    os.environ.get("COURSE_CONTAINER_TEST") != "1",
    reason="slow, downloads torch 2.6: run with COURSE_CONTAINER_TEST=1")


def _python312() -> str:
    pyenv = Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")
    candidates = [os.environ.get("COURSE_PYTHON312"), shutil.which("python3.12"),
                  *sorted(str(p) for p in pyenv)]
    probe = "import sys, venv; print(sys.version_info[:2])"
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run([candidate, "-c", probe], capture_output=True, text=True,
                                     timeout=60)
        except OSError:
            continue
        if version.returncode == 0 and version.stdout.strip() == "(3, 12)":
            return candidate
    pytest.skip("no Python 3.12 with venv found: set COURSE_PYTHON312 (apt-get install "
                "python3.12-venv, or pyenv install 3.12)")


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3.12/site-packages")
    return found


@pytest.fixture(scope="module")
def image() -> Path:
    """The base: Python 3.12 with the images' torch and torchvision (built once, cached)."""
    venv = Path(os.environ.get("COURSE_CONTAINER_VENV") or
                Path.home() / ".cache" / "transfer-learning-course" / "py312-torch2.6")
    python = venv / "bin" / "python"
    check = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"
    if python.exists():
        found = subprocess.run([python, "-c", check], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.split()[0].startswith(TORCH):
            return venv
    _run([_python312(), "-m", "venv", "--clear", venv])
    _run([python, "-m", "pip", "install", "--quiet", "--only-binary=:all:",
          f"torch=={TORCH}", f"torchvision=={TORCHVISION}", *IMAGE_EXTRAS], timeout=3600)
    versions = _run([python, "-c", check]).stdout.split()
    assert [v.split("+")[0] for v in versions] == [TORCH, TORCHVISION]
    return venv


def _layer(image: Path, where: Path, requirements: Path) -> Path:
    """A fresh environment on top of the image, with ``requirements`` pip-installed into it:
    the container's start-up, on a copy-on-write view of the image."""
    _run([image / "bin" / "python", "-m", "venv", "--without-pip", where])
    (_site_packages(where) / "image.pth").write_text(str(_site_packages(image)) + "\n")
    python = where / "bin" / "python"
    freeze = [python, "-m", "pip", "freeze", "--all"]
    image_packages = set(_run([image / "bin" / "python", *freeze[1:]]).stdout.splitlines())
    _run([python, "-m", "pip", "install", "--quiet", "-r", requirements], timeout=1800)
    torch_version = _run([python, "-c", "import torch; print(torch.__version__)"]).stdout
    assert torch_version.split("+")[0].strip() == TORCH, "pip replaced the image's torch"
    added = set(_run(freeze).stdout.splitlines()) - image_packages
    image_names = {line.split("==")[0].lower() for line in image_packages}
    replaced = sorted(line for line in added if line.split("==")[0].lower() in image_names)
    assert not replaced, f"pip replaced packages the image ships: {replaced}"
    return python


@pytest.fixture(scope="module")
def flowers(tmp_path_factory) -> Path:
    from offline import synthetic

    return synthetic.generate("flowers", tmp_path_factory.mktemp("flowers"), n_per_class=6,
                              size=40, classes=["button_daisy", "cup_tulip", "starburst_lily"],
                              progress=False)


@pytest.fixture(scope="module")
def trained(image, flowers, tmp_path_factory) -> Path:
    """One epoch of train.py from a detector, in the training layer: its model_dir."""
    from utils import checkpoint, models
    from utils import sagemaker_workflow as smw

    tmp = tmp_path_factory.mktemp("training")
    detector = tmp / "detector"
    checkpoint.save_checkpoint(detector / "flower_detector.pt",
                               models.create_model(2, pretrained=False, seed=0),
                               ["not_flower", "flower"], image_size=32)
    source = smw.stage_source(tmp / "source")
    python = _layer(image, tmp / "venv", source / "requirements.txt")
    model_dir = tmp / "model"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "PYTHON"))}
    log = _run([python, "train.py", "--training", flowers, "--detector", detector,
                "--epochs", "1", "--batch_size", "4", "--image_size", "32",
                "--trainable_stages", "1", "--model_dir", model_dir,
                "--checkpoint_dir", tmp / "checkpoints", "--output_data_dir", tmp / "out"],
               cwd=source, env=env, timeout=1800).stdout
    assert "epoch=1 " in log and "final " in log, log
    assert {"model.pt", "detector.pt"} <= {p.name for p in model_dir.iterdir()}
    return model_dir


def test_one_training_epoch_runs_in_the_training_image(trained):
    from utils.checkpoint import load_checkpoint

    _, classes, meta = load_checkpoint(trained / "model.pt")  # written by torch 2.6
    assert len(classes) == 3 and meta["history"][0]["epoch"] == 1


def test_the_handler_runs_in_the_serving_image_with_only_its_requirements(image, trained,
                                                                          tmp_path):
    from offline import synthetic
    from utils import sagemaker_workflow as smw
    from utils.sagemaker_code import inference

    serving = smw.stage_source(tmp_path / "serving", purpose="inference")
    python = _layer(image, tmp_path / "venv", serving / "requirements.txt")
    model_dir = tmp_path / "model"
    shutil.copytree(trained, model_dir)
    shutil.copytree(serving, model_dir / "code")
    buffer = io.BytesIO()
    synthetic.render("flowers", "cup_tulip", size=40, seed=0, index=9).save(buffer, "PNG")
    (tmp_path / "photo.png").write_bytes(buffer.getvalue())
    script = (
        "import json, sys, torch; import inference as h\n"
        "served = h.model_fn(sys.argv[1])\n"
        "data = h.input_fn(open(sys.argv[2], 'rb').read(), 'image/png')\n"
        "body, kind = h.output_fn(h.predict_fn(data, served), 'application/json')\n"
        "print(json.dumps({'torch': torch.__version__, 'reply': json.loads(body)}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "PYTHON"))}
    out = _run([python, "-c", script, model_dir, tmp_path / "photo.png"],
               cwd=model_dir / "code", env=env, timeout=600).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["torch"].split("+")[0] == TORCH
    container = result["reply"]["predictions"][0]
    here = inference.predict_fn(inference.input_fn(buffer.getvalue(), "image/png"),
                                inference.model_fn(model_dir))["predictions"][0]
    assert [t["label"] for t in container["top_k"]] == [t["label"] for t in here["top_k"]]
    for a, b in zip(container["top_k"], here["top_k"], strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)
    assert container["flower_probability"] == pytest.approx(here["flower_probability"],
                                                            abs=1e-4)
