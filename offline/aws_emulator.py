"""An offline AWS for chapter 06: moto in server mode, patched so SageMaker jobs really run.

Start it with one command (it prints the variables to export, then serves until Ctrl-C)::

    python -m offline.aws_emulator            # http://127.0.0.1:5055

or from Python / a notebook, in the background (stopped again by ``emulator.stop()``)::

    from offline import aws_emulator
    emulator = aws_emulator.start()         # sets AWS_ENDPOINT_URL & co. in os.environ

Every AWS call of the SageMaker Python SDK (S3, IAM, CloudWatch Logs, SageMaker, SageMaker
Runtime) then goes to ``127.0.0.1`` instead of AWS. Stock moto records the requests but runs
nothing; this module adds what a course needs to be *real*:

* **Training jobs** run the job's own code the way the container would, with ``/opt/ml``
  relocated to a temporary folder: the channels are downloaded from (emulated) S3, the config
  files are written, and then either the SDK v3 ``sm_train.sh`` driver runs (``ModelTrainer``
  jobs) or the ``sagemaker-training`` toolkit's ``train`` command (tuning trials, which name
  ``sagemaker_program`` / ``sagemaker_submit_directory``). ``model.tar.gz`` and
  ``output.tar.gz`` are uploaded, checkpoints are synced from and to the checkpoint S3 URI,
  the log goes to CloudWatch Logs (so ``wait(logs=True)`` shows it; every line is there before
  the job's status turns final), metrics are read with the job's own metric definitions, and
  ``MaxRuntimeInSeconds`` is enforced. A job runs in the course's own environment, so its
  ``pip install -r requirements.txt`` runs with ``PIP_DRY_RUN=1``: it checks the pins and
  never changes that environment.
* **Tuning jobs** run their trials (random search over the job's ranges; for ``Grid``, every
  combination, or the first ``MaxNumberOfTrainingJobs``), one after another, and report the
  best by the objective metric.
* **Endpoints** download the model artefact and load ``inference.py`` in the PyTorch serving
  toolkit's own ``HandlerService``; ``InvokeEndpoint`` runs it. A request the handler rejects
  comes back as SageMaker's ``ModelError`` with the handler's status and message.
  Serverless endpoints (``ServerlessConfig`` instead of an instance type) load and answer the
  same way.
* Fixes for stock moto: ``SimulatePrincipalPolicy`` (the SDK checks the role with it) allows
  every action; empty ``VpcConfig`` / ``DataCaptureConfig`` are left out of replies (the SDK's
  pydantic shapes reject ``{}``).
* On the client side, :meth:`Emulator.activate` shortens the SDK's waiting between status
  checks (5 s for jobs, 30 s for endpoints) to under a second: here a deploy takes seconds.

What it cannot emulate: instance types and their speed (jobs run on this machine's CPU),
real spot interruptions, multi-instance jobs (every job runs as one host), IAM policies, and
prices. Nothing here ever contacts AWS.
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import product
from pathlib import Path

DEFAULT_PORT = 5055
READY = "Press Ctrl-C to stop."  # the server's last start-up line: role and bucket exist
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ROLE_NAME = "CourseSageMakerRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
BUCKET = "course-sagemaker-emulator"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
#: Fake credentials: the emulator accepts anything; real AWS rejects these.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator"}
_KEEP_OUT = ("SM_", "SAGEMAKER_", "PET_")
#: the repository this file lives in (offline/ is at its top)
_REPOSITORY = Path(__file__).resolve().parent.parent
_DIST_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached."""


# ============================================================================================
# Client side: start / stop the server and point the SDK at it
# ============================================================================================


def client_environment(url: str, region: str = REGION) -> dict[str, str]:
    """The variables that send boto3 (and so the SageMaker SDK) to the emulator at ``url``."""
    return {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
            **CREDENTIALS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Emulator:
    """A running emulator: its URL, and (if started here) its process and log file."""

    url: str
    region: str = REGION
    role_arn: str = ROLE_ARN
    bucket: str = BUCKET
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    temporary_workdir: Path | None = None  # deleted by stop(): start() made it
    _saved_env: dict = field(default_factory=dict)
    _fast_waits: bool = False  # this emulator holds one of the shortened-waits claims

    @property
    def environ(self) -> dict[str, str]:
        return client_environment(self.url, self.region)

    def activate(self) -> Emulator:
        """Point this process's boto3 at the emulator (``os.environ``) and shorten the SDK's
        waits (:func:`shorten_sdk_waits`); ``stop()`` undoes both."""
        for key, value in self.environ.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        if not self._fast_waits:
            self._fast_waits = True
            _FAST_WAIT_CLAIMS.append(self)
            shorten_sdk_waits()
        return self

    def deactivate(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._fast_waits:
            self._fast_waits = False
            _FAST_WAIT_CLAIMS[:] = [e for e in _FAST_WAIT_CLAIMS if e is not self]
            if not _FAST_WAIT_CLAIMS:  # the last active emulator gives the SDK its waits back
                restore_sdk_waits()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path and self.log_path.is_file():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Stop the server (if this process started it) and restore the environment."""
        self.deactivate()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.temporary_workdir is not None:
            shutil.rmtree(self.temporary_workdir, ignore_errors=True)
            self.temporary_workdir = None

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


#: Seconds between the SDK's status checks in emulator mode (the SDK: 5 for jobs, 30 for
#: endpoints, sized for real instances that take minutes to start).
FAST_POLL = 0.5
_SDK_WAITS: dict = {}  # (module, attribute) -> the SDK's original, while shortened
_FAST_WAIT_CLAIMS: list = []  # the active emulators that want them short


def shorten_sdk_waits(poll: float = FAST_POLL) -> None:
    """Make the SageMaker SDK check a job's or an endpoint's status every ``poll`` seconds.

    ``TrainingJob.wait`` and ``HyperParameterTuningJob.wait`` poll every 5 s; ``ModelBuilder``
    waits for an endpoint with ``_wait_until``, which sleeps 30 s before its first check. In the
    emulator a job's status changes within a second of its end and an endpoint is in service
    when it is created, so those sleeps are pure waiting. :func:`restore_sdk_waits` undoes it.
    """
    import importlib

    if _SDK_WAITS:
        return
    whole_seconds = max(1, int(poll))  # the resources' wait() validates poll as an int
    resources = importlib.import_module("sagemaker.core.resources")
    for cls in (resources.TrainingJob, resources.HyperParameterTuningJob):
        original = cls.wait
        _SDK_WAITS[(cls, "wait")] = original

        def wait(self, *args, _original=original, **kwargs):
            if args:  # wait(poll, ...)
                args = (min(args[0], whole_seconds), *args[1:])
            else:
                kwargs["poll"] = min(kwargs.get("poll", 5), whole_seconds)
            return _original(self, *args, **kwargs)

        cls.wait = wait
    for name in ("sagemaker.serve.model_builder", "sagemaker.core.helper.session_helper"):
        module = importlib.import_module(name)
        original = module._wait_until
        _SDK_WAITS[(module, "_wait_until")] = original

        def wait_until(callable_fn, *args, _original=original, **kwargs):
            given = kwargs.pop("poll", args[0] if args else 5)
            return _original(callable_fn, min(given, poll))

        module._wait_until = wait_until


def restore_sdk_waits() -> None:
    """Give the SDK its own waiting times back (real AWS needs them)."""
    for (owner, attribute), original in _SDK_WAITS.items():
        setattr(owner, attribute, original)
    _SDK_WAITS.clear()


def start(port: int | None = None, workdir=None, activate: bool = True,
          timeout: float = 90.0) -> Emulator:
    """Start the emulator in a background process and wait until it answers.

    ``port=None`` picks a free port. ``workdir`` holds the jobs' logs and, while a job runs, its
    relocated ``/opt/ml`` (default: a temporary folder, deleted by ``stop()``). With
    ``activate`` (default) this process's
    ``os.environ`` points boto3 at it until ``stop()``.
    """
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    temporary = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sm-emulator-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "emulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_KEEP_OUT)}
    env.pop("AWS_ENDPOINT_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    root = _REPOSITORY
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "offline.aws_emulator", "--port", str(port),
             "--workdir", str(workdir)],
            stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
            start_new_session=True)
    emulator = Emulator(url=url, process=process, log_path=log_path,
                        temporary_workdir=workdir if temporary else None)
    deadline = time.monotonic() + timeout
    while not (READY in emulator.log_tail(200) and _reachable(url)):
        if process.poll() is not None:
            raise EmulatorError(f"The AWS emulator exited at start-up (code {process.returncode})"
                                f":\n{emulator.log_tail()}")
        if time.monotonic() > deadline:
            tail = emulator.log_tail()
            emulator.stop()
            raise EmulatorError(f"The AWS emulator did not answer on {url} within {timeout:.0f} "
                                f"s:\n{tail}")
        time.sleep(0.3)
    atexit.register(emulator.stop)  # a kernel restart must not leave the server running
    return emulator.activate() if activate else emulator


# ============================================================================================
# Server side: moto plus the patches
# ============================================================================================

_STATE: dict = {"workdir": None, "url": None}
_RUNNING: dict = {}  # job name -> its process; all are stopped with the server
_STOP_REQUESTED: set = set()  # training and tuning jobs asked to stop (StopTrainingJob, ...)


def _now() -> datetime:
    return datetime.now(UTC)


def _s3():
    import boto3

    return boto3.client("s3", endpoint_url=_STATE["url"], region_name=REGION, **_boto_creds())


def _logs():
    import boto3

    return boto3.client("logs", endpoint_url=_STATE["url"], region_name=REGION, **_boto_creds())


def _boto_creds() -> dict:
    return {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> ``("bucket", "key/prefix")``."""
    if not str(uri).startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = str(uri)[5:].partition("/")
    return bucket, key


def download_prefix(uri: str, dest: Path) -> int:
    """Download every object under an S3 prefix (or one object) into ``dest``; returns a count."""
    s3 = _s3()
    bucket, prefix = split_s3_uri(uri)
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            rel = key[len(prefix):].lstrip("/") or Path(key).name
            if key.endswith("/"):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            count += 1
    return count


def upload_folder(folder: Path, uri: str) -> None:
    s3 = _s3()
    bucket, prefix = split_s3_uri(uri)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder)}")


def upload_tarball(folder: Path, uri: str) -> None:
    """Upload ``folder``'s contents as a gzipped tar (the layout of SageMaker's model.tar.gz)."""
    buffer = io.BytesIO()
    # fast compression: weights barely compress, and level 9 costs seconds per artefact
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            tar.add(path, arcname=path.name)
    bucket, key = split_s3_uri(uri)
    _s3().put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def download_tarball(uri: str, dest: Path) -> None:
    bucket, key = split_s3_uri(uri)
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
        tar.extractall(dest, filter="data")


# --------------------------------------------------------------------------------------------
# Training jobs
# --------------------------------------------------------------------------------------------


def _job_environment(base: Path, extra: dict, *, share: int = 1) -> dict[str, str]:
    """A clean environment for a job process: no SM_* leaking in from the server's own.

    ``share``: how many jobs run at once; each gets that share of this machine's cores (more
    threads than cores slows every job down several times over).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_KEEP_OUT) and k not in _DIST_VARS}
    env.update(client_environment(_STATE["url"]), PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, share))))
    # the job runs in the course's own environment: its `pip install -r requirements.txt`
    # (the SDK's driver, the training toolkit) checks the pins but must never change it
    env["PIP_DRY_RUN"] = "1"
    # ... and it must not import the course's packages from the repository, which AWS's image
    # does not have: container_site/sitecustomize.py refuses them as the container would
    site = _REPOSITORY / "offline" / "container_site"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["COURSE_EMULATOR_REPOSITORY"] = str(_REPOSITORY)
    # no SM_CHECKPOINT_DIR: neither SageMaker nor the SDK sets one. A script finds its
    # checkpoints where CheckpointConfig's LocalPath says (default /opt/ml/checkpoints), which
    # it must be told (a hyperparameter), as on AWS
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def _relocate_text(folder: Path, base: Path) -> None:
    """Replace ``/opt/ml`` by ``base`` in the SDK's driver scripts (what relocating means)."""
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".sh", ".py", ".json", ""):
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            if "/opt/ml" in text:
                path.write_text(text.replace("/opt/ml", str(base)))


def parse_metrics(log: str, definitions: list[dict]) -> dict[str, list[float]]:
    """Every match of each metric definition's regex in ``log``, as SageMaker scrapes them."""
    found: dict[str, list[float]] = {}
    for definition in definitions or []:
        values = []
        for match in re.finditer(definition["Regex"], log):
            try:
                values.append(float(match.group(1)))
            except (IndexError, TypeError, ValueError):
                continue
        if values:
            found[definition["Name"]] = values
    return found


def _open_log_stream(logs, group: str, stream: str) -> None:
    """Create a CloudWatch log group and a stream in it, each unless it exists already."""
    for create, kwargs in ((logs.create_log_group, {"logGroupName": group}),
                           (logs.create_log_stream, {"logGroupName": group,
                                                     "logStreamName": stream})):
        try:
            create(**kwargs)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass


class _LogSink:
    """Appends a job's output to its local log file and to CloudWatch Logs."""

    def __init__(self, path: Path, job_name: str):
        self.path, self.stream = path, f"{job_name}/algo-1-{int(time.time())}"
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        try:
            logs = _logs()
            _open_log_stream(logs, LOG_GROUP, self.stream)
            self.logs = logs
        except Exception:  # noqa: BLE001 - the local log still works
            self.logs = None
        self.pending: list[dict] = []
        self.last_flush = time.monotonic()

    def write(self, line: str) -> None:
        self.file.write(line)
        self.file.flush()
        if line.strip():  # CloudWatch refuses an empty message, and with it the whole batch
            self.pending.append({"timestamp": int(time.time() * 1000),
                                 "message": line.rstrip("\n")})
        if time.monotonic() - self.last_flush > 1.0:
            self.flush()

    def flush(self) -> None:
        if self.logs is not None and self.pending:
            try:
                self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=self.stream,
                                         logEvents=self.pending)
            except Exception:  # noqa: BLE001
                pass
        self.pending, self.last_flush = [], time.monotonic()

    def close(self) -> None:
        self.flush()
        self.file.close()


CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"  # CheckpointConfig.LocalPath's default


def container_path(base: Path, path: str) -> Path:
    """Where a path inside the job's container lives here: ``/opt/ml/...`` under ``base``
    (the relocated ``/opt/ml``), any other absolute path under ``base/../container``."""
    if path == "/opt/ml" or path.startswith("/opt/ml/"):
        return base / path[len("/opt/ml"):].lstrip("/")
    return base.parent.parent / "container" / path.lstrip("/")


def checkpoint_local_path(job) -> str:
    """The container path SageMaker syncs with ``CheckpointConfig.S3Uri`` (its LocalPath)."""
    return ((job.checkpoint_config or {}).get("LocalPath") or CHECKPOINT_LOCAL_PATH).rstrip("/")


def _relocate_value(value, base: Path, local_path: str):
    """A hyperparameter as the job sees it: container paths in it point at their stand-ins."""
    if not isinstance(value, str):
        return value
    if local_path and not local_path.startswith("/opt/ml") and local_path in value:
        value = value.replace(local_path, str(container_path(base, local_path)))
    return value.replace("/opt/ml", str(base))


def _write_config(base: Path, job) -> None:
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    local_path = checkpoint_local_path(job)
    hps = {k: _relocate_value(v, base, local_path)
           for k, v in (job.hyper_parameters or {}).items()}
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    channels = {c["ChannelName"]: {"TrainingInputMode": c.get("InputMode", "File"),
                                   "S3DistributionType": "FullyReplicated",
                                   "RecordWrapperType": "None"}
                for c in job.input_data_config or []}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    instance_type = (job.resource_config or {}).get("InstanceType", "ml.m5.xlarge")
    resource = {"current_host": "algo-1", "hosts": ["algo-1"],
                "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster",
                "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                     "instance_type": instance_type, "hosts": ["algo-1"]}],
                "network_interface_name": "lo"}
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    for name in ("model", "output/data", "code"):
        (base / name).mkdir(parents=True, exist_ok=True)
    if job.checkpoint_config:
        container_path(base, local_path).mkdir(parents=True, exist_ok=True)


def job_requirements(base: Path, root: Path, hyperparameters: dict) -> Path | None:
    """The requirements file the job's container would pip-install at start, if any.

    ``ModelTrainer`` jobs: the file the SDK's driver installs, in the ``code`` channel.
    Toolkit jobs (tuning trials): ``requirements.txt`` in ``sagemaker_submit_directory``.
    """
    drivers = base / "input" / "data" / "sm_drivers" / "sourcecode.json"
    if drivers.is_file():
        name = json.loads(drivers.read_text()).get("requirements") or "requirements.txt"
        path = base / "input" / "data" / "code" / name
        return path if path.is_file() else None
    submit = str(hyperparameters.get("sagemaker_submit_directory", "")).strip('"')
    if submit.startswith("s3://"):
        download_tarball(submit, root / "submitted")
        path = root / "submitted" / "requirements.txt"
        return path if path.is_file() else None
    return None


def _train_command() -> str:
    """The ``sagemaker-training`` toolkit's ``train`` command, found on the PATH as a shell
    would (a ``pip install --user`` puts it in ~/.local/bin, not beside ``sys.executable``)."""
    beside = Path(sys.executable).parent
    found = shutil.which("train", path=f"{beside}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise FileNotFoundError("The sagemaker-training toolkit's `train` command is not on "
                                "the PATH: pip install sagemaker-training (see "
                                "requirements-studio.txt).")
    return found


def run_training_job(job, request: dict, metric_definitions: list[dict], *,
                     share: int = 1) -> None:
    """Run one training job to its end; updates the moto job object as SageMaker would.

    ``share``: how many jobs run at the same time (tuning trials in parallel).
    """
    name = job.training_job_name
    root = Path(_STATE["workdir"]) / "jobs" / name
    base = root / "opt" / "ml"
    sink = None
    started = time.monotonic()
    try:
        job.secondary_status = "Downloading"
        job.training_start_time = _now()
        for channel in job.input_data_config or []:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            download_prefix(uri, base / "input" / "data" / channel["ChannelName"])
        algo = request.get("AlgorithmSpecification") or {}
        entrypoint = algo.get("ContainerEntrypoint")
        _write_config(base, job)
        checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")
        checkpoints = container_path(base, checkpoint_local_path(job))
        if checkpoint_uri:
            download_prefix(checkpoint_uri, checkpoints)
        requirements = job_requirements(base, root, dict(job.hyper_parameters or {}))
        if requirements is not None:
            from offline.aws_images import RequirementConflict, check_requirements

            try:
                check_requirements(requirements, "training")
            except RequirementConflict as err:
                job.failure_reason = f"AlgorithmError: InstallRequirementsError: {err}"[:1024]
                job.training_job_status = job.secondary_status = "Failed"
                sink = _LogSink(root / "job.log", name)
                sink.write(f"{err}\n")
                return
        env = _job_environment(base, request.get("Environment") or {}, share=share)
        env.update(TRAINING_JOB_NAME=name, TRAINING_JOB_ARN=job.arn)
        if entrypoint:  # SDK v3 ModelTrainer: sm_train.sh from the sm_drivers channel
            _relocate_text(base / "input" / "data" / "sm_drivers", base)
            args = [a.replace("/opt/ml", str(base)) for a in algo.get("ContainerArguments", [])]
            command = [*entrypoint, *args]
            cwd = base
        else:  # a tuning trial (or a v2-style job): the sagemaker-training toolkit
            env.update(SAGEMAKER_BASE_DIR=str(base), SM_STUDIO_LOCAL_MODE="true",
                       SAGEMAKER_REGION=REGION)
            command = [_train_command()]
            cwd = root
        sink = _LogSink(root / "job.log", name)
        sink.write(f"[emulator] {name}: {' '.join(command)}\n")
        job.secondary_status = "Training"
        run_started = time.monotonic()
        max_run = (job.stopping_condition or {}).get("MaxRuntimeInSeconds") or 86400
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace",
                                   start_new_session=True)
        _RUNNING[name] = process
        timer = threading.Timer(max_run, _terminate, args=(process,))
        timer.start()
        log_lines = []
        try:
            for line in process.stdout:
                log_lines.append(line)
                sink.write(line)
            rc = process.wait()
        finally:
            timer.cancel()
            _RUNNING.pop(name, None)
            if process.poll() is None:
                _terminate(process, grace=0)
        sink.flush()  # every line is in CloudWatch before the job can look finished
        log = "".join(log_lines)
        timed_out = time.monotonic() - run_started >= max_run
        seconds = int(round(time.monotonic() - started))
        job.training_time_in_seconds = job.billable_time_in_seconds = max(1, seconds)
        metrics = parse_metrics(log, metric_definitions)
        job.final_metric_data_list = [{"MetricName": k, "Value": v[-1], "Timestamp": _now()}
                                      for k, v in metrics.items()]
        job.secondary_status = "Uploading"
        if checkpoint_uri:
            upload_folder(checkpoints, checkpoint_uri)
        stopped = name in _STOP_REQUESTED or timed_out
        if rc == 0 or stopped:  # a stopped job keeps what is in /opt/ml/model, as SageMaker does
            output = job.output_data_config["S3OutputPath"].rstrip("/")
            upload_tarball(base / "model", f"{output}/{name}/output/model.tar.gz")
            upload_tarball(base / "output" / "data", f"{output}/{name}/output/output.tar.gz")
            job.model_artifacts = {"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"}
        if stopped:
            job.training_job_status = "Stopped"
            job.secondary_status = "MaxRuntimeExceeded" if timed_out else "Stopped"
        elif rc == 0:
            job.training_job_status = job.secondary_status = "Completed"
        else:
            failure = base / "output" / "failure"
            reason = failure.read_text().strip() if failure.is_file() else ""
            job.failure_reason = (reason or f"AlgorithmError: exit code {rc}")[:1024]
            job.training_job_status = job.secondary_status = "Failed"
    except Exception as err:  # noqa: BLE001 - the job fails, the server lives on
        job.failure_reason = f"Emulator error: {type(err).__name__}: {err}"[:1024]
        job.training_job_status = job.secondary_status = "Failed"
        if sink:
            sink.write(traceback.format_exc())
    finally:
        job.training_end_time = job.last_modified_time = _now()
        if sink:
            sink.close()
        # like a job's container, its /opt/ml goes away once the artefacts are in S3 (job.log
        # stays); otherwise every run would leave the data, model and checkpoints behind
        for folder in ("opt", "container", "submitted"):
            shutil.rmtree(root / folder, ignore_errors=True)


def _terminate(process, grace: float = 10.0) -> None:
    """SIGTERM a job's process group, then SIGKILL it if it is still there after ``grace`` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _request_stop(job_name: str) -> None:
    """Mark a job as asked to stop and terminate its process, if it is running."""
    _STOP_REQUESTED.add(job_name)
    if job_name in _RUNNING:
        threading.Thread(target=_terminate, args=(_RUNNING[job_name],), daemon=True).start()


def _start_training(job, request: dict) -> None:
    job.training_job_status, job.secondary_status = "InProgress", "Starting"
    job.model_artifacts = None
    job.final_metric_data_list = []
    job.training_end_time = None
    job.environment = request.get("Environment") or {}
    definitions = (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    job.algorithm_specification["MetricDefinitions"] = definitions
    threading.Thread(target=run_training_job, args=(job, request, definitions),
                     name=f"job-{job.training_job_name}", daemon=True).start()


# --------------------------------------------------------------------------------------------
# Tuning jobs
# --------------------------------------------------------------------------------------------


def sample_configurations(ranges: dict, count: int, strategy: str, seed: int = 0) -> list[dict]:
    """Hyperparameter sets for ``count`` trials: random search, or a grid for ``Grid``.

    ``ranges`` is the API's ``ParameterRanges``. Values are strings, as the service sends them.
    """
    rng = random.Random(seed)
    continuous = ranges.get("ContinuousParameterRanges", [])
    integer = ranges.get("IntegerParameterRanges", [])
    categorical = ranges.get("CategoricalParameterRanges", [])
    if strategy == "Grid":
        axes = [[(r["Name"], v) for v in r["Values"]] for r in categorical]
        axes += [[(r["Name"], str(v)) for v in range(int(r["MinValue"]), int(r["MaxValue"]) + 1)]
                 for r in integer]
        return [dict(combo) for combo in product(*axes)][:count]
    configs = []
    for _ in range(count):
        config = {}
        for r in continuous:
            low, high = float(r["MinValue"]), float(r["MaxValue"])
            if r.get("ScalingType") in ("Logarithmic", "ReverseLogarithmic") and low > 0:
                import math

                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                value = rng.uniform(low, high)
            config[r["Name"]] = f"{value:.6g}"
        for r in integer:
            config[r["Name"]] = str(rng.randint(int(r["MinValue"]), int(r["MaxValue"])))
        for r in categorical:
            config[r["Name"]] = rng.choice(r["Values"])
        configs.append(config)
    return configs


def run_tuning_job(tuning, backend) -> None:
    """Run a tuning job's trials, at most ``MaxParallelTrainingJobs`` at a time, and record the
    best.

    Any error ends the tuning job as ``Failed`` with the reason, never as a job that stays
    ``InProgress`` (which would keep a waiting notebook polling forever).
    """
    try:
        _run_trials(tuning, backend)
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        tuning.hyper_parameter_tuning_job_status = "Failed"
        tuning.failure_reason = f"Emulator error: {type(err).__name__}: {err}"[:1024]
        tuning.hyper_parameter_tuning_end_time = tuning.last_modified_time = _now()


def _run_trials(tuning, backend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    config = tuning.hyper_parameter_tuning_job_config
    definition = tuning.training_job_definition or (tuning.training_job_definitions or [{}])[0]
    objective = config.get("HyperParameterTuningJobObjective", {})
    maximize = objective.get("Type", "Maximize") == "Maximize"
    limits = config.get("ResourceLimits", {})
    strategy = config.get("Strategy", "Random")
    # Grid: every combination, unless a maximum is given (SageMaker: Grid needs no maximum)
    count = int(limits.get("MaxNumberOfTrainingJobs") or (10**6 if strategy == "Grid" else 1))
    parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
    trials = sample_configurations(config.get("ParameterRanges", {}), count, strategy)
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0,
                "Stopped": 0}
    objectives = {"Succeeded": 0, "Pending": len(trials), "Failed": 0}
    tuning.training_job_status_counters, tuning.objective_status_counters = counters, objectives
    algo = definition.get("AlgorithmSpecification", {})
    definitions = algo.get("MetricDefinitions") or []
    tuning_name = tuning.hyper_parameter_tuning_job_name
    summaries = []
    _STATE.setdefault("trials", {})[tuning_name] = summaries
    running = _STATE.setdefault("current_trials", {}).setdefault(tuning_name, set())
    lock = threading.Lock()

    def run_trial(index: int, tuned: dict):
        if tuning_name in _STOP_REQUESTED:
            return None
        tag = f"{random.getrandbits(32):08x}"
        name = f"{tuning_name[:27]}-{index:03d}-{tag}"
        hps = {**definition.get("StaticHyperParameters", {}), **tuned}
        request = {"AlgorithmSpecification": {k: v for k, v in algo.items()
                                              if k not in ("ContainerEntrypoint",
                                                           "ContainerArguments")},
                   "Environment": definition.get("Environment") or {}}
        with lock:
            job = backend.create_training_job(
                training_job_name=name, hyper_parameters=hps, algorithm_specification=dict(algo),
                role_arn=definition.get("RoleArn"), input_data_config=definition.get(
                    "InputDataConfig", []), output_data_config=definition["OutputDataConfig"],
                resource_config=definition.get("ResourceConfig", {}), vpc_config=None,
                stopping_condition=definition.get("StoppingCondition", {}), tags=[],
                enable_network_isolation=False,
                enable_inter_container_traffic_encryption=False,
                enable_managed_spot_training=definition.get("EnableManagedSpotTraining", False),
                checkpoint_config=definition.get("CheckpointConfig"), debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None, experiment_config=None)
            job.tuning_job_arn = tuning.arn
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.model_artifacts, job.final_metric_data_list = None, []
            job.algorithm_specification["MetricDefinitions"] = definitions
            counters["InProgress"] += 1
            running.add(name)
        try:
            run_training_job(job, request, definitions, share=min(parallel, len(trials)))
        finally:
            with lock:
                running.discard(name)
                counters["InProgress"] -= 1
                objectives["Pending"] -= 1
        values = {m["MetricName"]: m["Value"] for m in job.final_metric_data_list}
        value = values.get(objective.get("MetricName"))
        summary = {"TrainingJobName": name, "TrainingJobArn": job.arn,
                   "TuningJobName": tuning_name,
                   "CreationTime": job.creation_time, "TrainingStartTime":
                   job.training_start_time, "TrainingEndTime": job.training_end_time,
                   "TrainingJobStatus": job.training_job_status,
                   "TunedHyperParameters": tuned}
        with lock:
            if job.training_job_status == "Completed":
                counters["Completed"] += 1
            elif job.training_job_status == "Stopped":
                counters["Stopped"] += 1
            else:
                counters["NonRetryableError"] += 1
                summary["FailureReason"] = job.failure_reason
            if value is None:
                objectives["Failed"] += 1
                summary["ObjectiveStatus"] = "Failed"
            else:
                objectives["Succeeded"] += 1
                summary["ObjectiveStatus"] = "Succeeded"
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": objective.get("Type", "Maximize"),
                    "MetricName": objective["MetricName"], "Value": value}
            summaries.append(summary)
            tuning.last_modified_time = _now()
        return (value, summary) if value is not None else None

    # SageMaker starts up to MaxParallelTrainingJobs trials at once; so does the emulator
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="trial") as pool:
        results = list(pool.map(run_trial, range(1, len(trials) + 1), trials))
    summaries.sort(key=lambda s: s["TrainingJobName"])
    best = None  # in launch order (pool.map keeps it), so ties go to the earlier trial
    for value, summary in (r for r in results if r is not None):
        if best is None or (value > best[0] if maximize else value < best[0]):
            best = (value, summary)
    tuning.best_training_job = best[1] if best else None
    tuning.OverallBestTrainingJob = tuning.best_training_job
    if tuning.hyper_parameter_tuning_job_name in _STOP_REQUESTED:
        tuning.hyper_parameter_tuning_job_status = "Stopped"
    else:
        tuning.hyper_parameter_tuning_job_status = "Completed" if best else "Failed"
    if not best and tuning.hyper_parameter_tuning_job_status == "Failed":
        tuning.failure_reason = "No training job reported the objective metric " \
                                f"{objective.get('MetricName')!r}."
    tuning.hyper_parameter_tuning_end_time = tuning.last_modified_time = _now()
    tuning.tuning_job_completion_details = {"NumberOfTrainingJobsObjectiveNotImproving": 0}
    tuning.consumed_resources = {"RuntimeInSeconds": int(sum(
        (s["TrainingEndTime"] - s["TrainingStartTime"]).total_seconds() for s in summaries
        if s.get("TrainingEndTime") and s.get("TrainingStartTime")))}


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


class Request:
    """The request headers, as TorchServe's request processor holds them."""

    def __init__(self, headers: dict):
        self.headers = headers

    def get_request_properties(self) -> dict:
        return self.headers


class ServingContext:
    """The parts of TorchServe's ``Context`` that the SageMaker serving toolkit uses."""

    def __init__(self, model_dir):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None}
        self.request_processor = [Request({})]
        self.status, self.content_type = None, None

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status = (code, phrase)

    def set_response_content_type(self, idx, value):
        self.content_type = value


class ModelServer:
    """One endpoint's model: ``inference.py`` under the serving toolkit's ``HandlerService``."""

    def __init__(self, model_dir: Path, program: str = "inference.py"):
        from sagemaker_pytorch_serving_container.handler_service import HandlerService

        code = model_dir / "code"
        # No check of our own for code/: as in the container, the toolkit imports
        # code/<program> if it is there and otherwise serves with its default handler, whose
        # model_fn wants a TorchScript model.pt (ModelLoadError for the course's checkpoint).
        os.environ["SAGEMAKER_PROGRAM"] = program
        self.lock = threading.Lock()
        self.context = ServingContext(model_dir)
        self.service = HandlerService()
        # The handler must import what model.tar.gz ships (code/utils/...), not the course
        # package this server runs from: hide ours while the handler loads, then put it back.
        ours = {k: sys.modules.pop(k) for k in list(sys.modules)
                if k == "utils" or k.startswith("utils.")}
        sys.modules.pop(Path(program).stem, None)
        # In the container, code/ is the only place the program can come from: hide any other
        # folder on this process's path that holds a file of that name (a test or a notebook
        # may have put utils/sagemaker_code/ there), or a model without code/ would load it.
        saved_path = list(sys.path)
        sys.path[:] = [str(code)] + [p for p in saved_path if not (Path(p) / program).is_file()]
        # The toolkit's initialize() also prepends code/ to os.environ["PYTHONPATH"]: right in
        # a container, wrong here, where every later subprocess (a notebook kernel, a training
        # job) would import that copy of utils. Put the variable back as it was.
        pythonpath = os.environ.get("PYTHONPATH")
        try:
            self.service.initialize(self.context)
            shipped = sys.modules.get("utils")
            self.code_package = getattr(shipped, "__file__", None)
        finally:
            if pythonpath is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = pythonpath
            sys.path[:] = saved_path
            for k in [k for k in sys.modules if k == "utils" or k.startswith("utils.")]:
                del sys.modules[k]
            sys.modules.update(ours)

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        with self.lock:
            self.context.status = None
            self.context.content_type = None
            self.context.request_processor = [Request({"Content-Type": content_type,
                                                        "Accept": accept})]
            reply = self.service.handle([{"body": model_server_body(body, content_type)}],
                                        self.context)[0]
            status = self.context.status[0] if self.context.status else 200
            if isinstance(reply, str):
                reply = reply.encode()
            return status, bytes(reply), self.context.content_type or "application/json"


_SERVERS: dict[str, ModelServer] = {}


def _serving_properties() -> dict[str, str]:
    """TorchServe's configuration in the PyTorch serving container (the toolkit's
    ``etc/default-ts.properties``), with the ``TS_*`` environment variables that override it
    (``enable_envvars_config=true``)."""
    from importlib import resources

    text = (resources.files("sagemaker_pytorch_serving_container") / "etc" /
            "default-ts.properties").read_text()
    properties = dict(line.split("=", 1) for line in text.splitlines()
                      if "=" in line and not line.lstrip().startswith("#"))
    if properties.get("enable_envvars_config") == "true":
        for key, value in os.environ.items():
            if key.startswith("TS_"):
                properties[key[3:].lower()] = value
    return properties


def model_server_body(body: bytes, content_type: str):
    """The request body as TorchServe's Python worker hands it to the handler.

    TorchServe decodes ``application/json`` bodies to Python objects and ``text/*`` bodies to
    ``str`` unless ``decode_input_request`` is ``false``; the PyTorch serving container sets it
    to ``false`` (``default-ts.properties``), so the handler gets the raw bytes, and the
    toolkit's transformer then decodes only ``application/json`` and ``text/csv`` to UTF-8
    text before ``input_fn``. The same rule here, read from the installed container package.
    """
    if _serving_properties().get("decode_input_request", "true").lower() == "false":
        return body
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        if media == "application/json":
            return json.loads(body.decode("utf-8"))
        if media.startswith("text"):
            return body.decode("utf-8")
    except (UnicodeDecodeError, ValueError):
        return body
    return body


#: What SageMaker reports when a container does not answer its health check (a model that
#: fails to load); the reason is in the endpoint's CloudWatch log.
PING_FAILURE = ("The primary container for production variant AllTraffic did not pass the ping "
                "health check. Please check CloudWatch logs for this endpoint.")


def _load_endpoint(backend, endpoint) -> None:
    config = backend.endpoint_configs[endpoint.endpoint_config_name]
    variant = config.production_variants[0]
    model = backend._models[variant["ModelName"]]
    container = model.primary_container or (model.containers or [{}])[0]
    env = container.get("Environment") or {}
    model_dir = Path(_STATE["workdir"]) / "endpoints" / endpoint.endpoint_name / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir(parents=True)
    if container.get("ModelDataUrl"):
        download_tarball(container["ModelDataUrl"], model_dir)
    # The serving toolkit reads code only from /opt/ml/model/code: a SAGEMAKER_SUBMIT_DIRECTORY
    # in S3 is never downloaded (a model that was not repacked with its code has none).
    requirements = model_dir / "code" / "requirements.txt"
    if requirements.is_file():  # the container pip-installs it before the model server starts
        from offline.aws_images import check_requirements

        check_requirements(requirements, "inference")
    program = env.get("SAGEMAKER_PROGRAM", "inference.py")
    server = ModelServer(model_dir, program)
    message = (f"endpoint {endpoint.endpoint_name}: loaded code/{program}; its utils package: "
               f"{server.code_package}")
    print(message, flush=True)
    _SERVERS[endpoint.endpoint_name] = server
    _endpoint_log(endpoint.endpoint_name, message)


def _endpoint_log(endpoint_name: str, message: str) -> None:
    """Write to the endpoint's CloudWatch log group, as SageMaker does.

    Some SDK releases (3.12) follow that group while they wait for a deploy and keep waiting
    until it exists.
    """
    group, stream = f"/aws/sagemaker/Endpoints/{endpoint_name}", "AllTraffic/i-emulator"
    try:
        logs = _logs()
        _open_log_stream(logs, group, stream)
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": int(time.time() * 1000), "message": message}])
    except Exception:  # noqa: BLE001 - the endpoint works without its log
        traceback.print_exc()


# --------------------------------------------------------------------------------------------
# The patches
# --------------------------------------------------------------------------------------------


def _drop_empty(response: dict) -> dict:
    return {k: v for k, v in response.items() if v not in ({}, None, [None])}


def install_patches() -> None:
    """Make moto's SageMaker, SageMaker Runtime and IAM behave as this module describes."""
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse
    from moto.sagemaker import models as sm_models
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    # -- IAM: the SDK checks the role with SimulatePrincipalPolicy; allow everything --
    def simulate_principal_policy(self):
        actions = self._get_param("ActionNames") or self._get_multi_param("ActionNames.member")
        return ActionResult({"EvaluationResults": [
            {"EvalActionName": a, "EvalResourceName": "*", "EvalDecision": "allowed",
             "MatchedStatements": [], "MissingContextValues": []} for a in actions],
            "IsTruncated": False})

    IamResponse.simulate_principal_policy = simulate_principal_policy

    # -- SageMaker: empty nested shapes ({}) break the SDK's pydantic models: leave them out --
    for action in ("describe_model", "describe_endpoint_config", "describe_endpoint",
                   "describe_training_job"):
        original = getattr(SageMakerResponse, action)

        def describe(self, _original=original):
            result = _original(self)
            if isinstance(getattr(result, "_result", None), dict):
                result._result = _drop_empty(result._result)
            return result

        setattr(SageMakerResponse, action, describe)

    # -- training jobs run --
    create_training_job = SageMakerResponse.create_training_job

    def create_training_job_and_run(self):
        result = create_training_job(self)
        request = json.loads(self.body)
        job = self.sagemaker_backend.training_jobs[request["TrainingJobName"]]
        _start_training(job, request)
        return result

    SageMakerResponse.create_training_job = create_training_job_and_run

    # -- tuning jobs run their trials --
    create_tuning_job = SageMakerResponse.create_hyper_parameter_tuning_job

    def create_tuning_job_and_run(self):
        result = create_tuning_job(self)
        name = json.loads(self.body)["HyperParameterTuningJobName"]
        backend = self.sagemaker_backend
        tuning = backend.hyper_parameter_tuning_jobs[name]
        tuning.hyper_parameter_tuning_job_status = "InProgress"
        tuning.best_training_job = tuning.OverallBestTrainingJob = None
        tuning.hyper_parameter_tuning_end_time = None
        threading.Thread(target=run_tuning_job, args=(tuning, backend), daemon=True,
                         name=f"tuning-{name}").start()
        return result

    SageMakerResponse.create_hyper_parameter_tuning_job = create_tuning_job_and_run
    sm_models.HyperParameterTuningJob.describe = _patched_describe(
        sm_models.HyperParameterTuningJob.describe)

    def list_training_jobs_for_hyper_parameter_tuning_job(self):
        name = self._get_param("HyperParameterTuningJobName")
        if name not in self.sagemaker_backend.hyper_parameter_tuning_jobs:
            from moto.sagemaker.exceptions import ResourceNotFound

            raise ResourceNotFound(message=f"Could not find tuning job {name!r}.")
        return ActionResult({"TrainingJobSummaries": list(_STATE.get("trials", {}).get(name, []))})

    def stop_training_job(self):
        name = self._get_param("TrainingJobName")
        job = self.sagemaker_backend.training_jobs.get(name)
        if job is None:
            from moto.sagemaker.exceptions import ValidationError

            raise ValidationError(message=f"Could not find training job '{name}'.")
        if job.training_job_status == "InProgress":
            job.secondary_status = "Stopping"
            _request_stop(name)
        return ActionResult({})

    def stop_hyper_parameter_tuning_job(self):
        name = self._get_param("HyperParameterTuningJobName")
        tuning = self.sagemaker_backend.hyper_parameter_tuning_jobs.get(name)
        if tuning is None:
            from moto.sagemaker.exceptions import ResourceNotFound

            raise ResourceNotFound(message=f"Could not find tuning job {name!r}.")
        if tuning.hyper_parameter_tuning_job_status == "InProgress":
            tuning.hyper_parameter_tuning_job_status = "Stopping"
            _STOP_REQUESTED.add(name)  # no trial starts after this ...
            for trial in list(_STATE.setdefault("current_trials", {}).get(name, ())):
                if trial in _RUNNING:  # ... and those running now stop
                    _request_stop(trial)
        return ActionResult({})

    SageMakerResponse.stop_training_job = stop_training_job
    SageMakerResponse.stop_hyper_parameter_tuning_job = stop_hyper_parameter_tuning_job
    SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = (
        list_training_jobs_for_hyper_parameter_tuning_job)

    # -- endpoints load the model; deleting one unloads it --
    create_endpoint = SageMakerResponse.create_endpoint

    def create_endpoint_and_load(self):
        result = create_endpoint(self)
        name = json.loads(self.body)["EndpointName"]
        endpoint = self.sagemaker_backend.endpoints[name]
        try:
            _load_endpoint(self.sagemaker_backend, endpoint)
        except Exception as err:  # noqa: BLE001 - the endpoint fails, as on SageMaker
            from offline.aws_images import RequirementConflict

            trace = traceback.format_exc()
            print(trace, flush=True)
            endpoint.endpoint_status = "Failed"
            if isinstance(err, RequirementConflict):  # pip fails before the server starts
                endpoint.failure_reason = f"Failed to install code/requirements.txt: {err}"
            else:
                endpoint.failure_reason = PING_FAILURE
            endpoint.failure_reason = endpoint.failure_reason[:1024]
            _endpoint_log(name, trace)  # where AWS users read why
        return result

    SageMakerResponse.create_endpoint = create_endpoint_and_load
    delete_endpoint = SageMakerResponse.delete_endpoint

    def delete_endpoint_and_unload(self):
        result = delete_endpoint(self)
        name = self._get_param("EndpointName")
        _SERVERS.pop(name, None)
        shutil.rmtree(Path(_STATE["workdir"]) / "endpoints" / name, ignore_errors=True)
        return result

    SageMakerResponse.delete_endpoint = delete_endpoint_and_unload

    # -- InvokeEndpoint runs the handler --
    def invoke_endpoint(self):
        name = self.path.rstrip("/").split("/")[-2]
        server = _SERVERS.get(name)
        if server is None:
            message = f"Endpoint {name} of account {ACCOUNT_ID} not found."
            return 400, {"Content-Type": "application/json", "status": 400,
                         "x-amzn-ErrorType": "ValidationError"}, json.dumps(
                {"message": message})
        body = self.body if isinstance(self.body, bytes) else str(self.body).encode("latin1")
        status, reply, content_type = server.invoke(
            body, self.headers.get("Content-Type", "application/octet-stream"),
            self.headers.get("Accept", "application/json"))
        if status != 200:
            message = (f"Received client error ({status}) from primary with message "
                       f'"{reply.decode(errors="replace")}". See the endpoint\'s logs.')
            return 424, {"Content-Type": "application/json", "status": 424,
                         "x-amzn-ErrorType": "ModelError"}, \
                json.dumps({"Message": message, "OriginalStatusCode": status,
                            "OriginalMessage": reply.decode(errors="replace")})
        return 200, {"Content-Type": content_type,
                     "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, reply

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
    setup_class = SageMakerRuntimeResponse.setup_class

    def setup_class_with_raw_body(self, request, full_url, headers, use_raw_body=False):
        # photos are binary: moto would decode every body as UTF-8
        return setup_class(self, request, full_url, headers, use_raw_body=True)

    SageMakerRuntimeResponse.setup_class = setup_class_with_raw_body


def _patched_describe(original):
    def describe(self):
        reply = original(self)  # moto fills these with canned values; ours may be None / ""
        if not reply.get("FailureReason"):
            reply.pop("FailureReason", None)
        return {k: v for k, v in reply.items() if v is not None}

    return describe


def _seed_account() -> None:
    """The role and bucket that the course passes explicitly in emulator mode."""
    import boto3

    iam = boto3.client("iam", endpoint_url=_STATE["url"], region_name=REGION, **_boto_creds())
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    _s3().create_bucket(Bucket=BUCKET)


def serve(port: int = DEFAULT_PORT, workdir=None) -> None:
    """Run the emulator in this process until interrupted (SIGINT / SIGTERM)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sm-emulator-"))
    workdir.mkdir(parents=True, exist_ok=True)
    _STATE.update(workdir=str(workdir), url=f"http://127.0.0.1:{port}")
    os.environ.update(client_environment(_STATE["url"]))
    install_patches()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _seed_account()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"AWS emulator (moto + course patches) on {_STATE['url']}; jobs in {workdir}")
    print("Point the SageMaker SDK at it with:")
    for key, value in client_environment(_STATE["url"]).items():
        print(f"  export {key}={value}")
    print(f"Role: {ROLE_ARN}\nBucket: {BUCKET}\n{READY}", flush=True)
    parent = os.getppid()
    while not stop.wait(2):
        if os.getppid() != parent:  # the notebook kernel (or shell) that started us is gone
            break
    for process in list(_RUNNING.values()):  # a job must not outlive its emulator
        _terminate(process, grace=5)
    server.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workdir", default=None, help="where jobs run (default: a temp dir)")
    args = parser.parse_args(argv)
    serve(args.port, args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
