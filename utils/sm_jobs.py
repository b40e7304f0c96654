"""Chapter 06's training and tuning jobs: the code they upload, and what they report.

* :func:`stage_source`: the folders the jobs and the endpoint upload (``train.py`` or
  ``inference.py``, their own ``requirements.txt``, a copy of the course package ``utils/``).
* :func:`export_image_folder`: a split as an ImageFolder for a channel.
* :func:`stop_if_interrupted`: an interrupted cell stops the job it started.
* :func:`job_history`, :func:`job_log`, :func:`load_job_model`: what a finished job left.
* :func:`tuning_trials` (:class:`Trial` rows) and :func:`trials_table`: what a tuning job ran.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .env import repo_root
from .sm_compat import staging_folder

CODE_FILES = ("train.py", "launchers.py", "inference.py", "metrics.py", "requirements.txt")


#: Course modules a job does not need (the emulator runs beside the notebook, not in a job).
NOT_SHIPPED = ("sagemaker_code", "sagemaker_workflow.py", "sm_*.py", "__pycache__")
#: the one module of ``offline/`` that ``utils`` imports at the top (``utils.env``'s progress
#: bar), shipped with the job's code: the training image has nothing of the course
OFFLINE_SHIPPED = ("__init__.py", "progress.py")


#: What the endpoint's ``code/`` holds: the handler, its requirements (copied as
#: ``requirements.txt``, the name the serving container installs) and the course modules it
#: imports (``photos.py`` for ``load_rgb``: numpy and Pillow are in the image).
INFERENCE_FILES = ("inference.py",)
INFERENCE_REQUIREMENTS = "requirements-inference.txt"
INFERENCE_UTILS = ("__init__.py", "models.py", "checkpoint.py", "photos.py", "precision.py")


def stage_source(dest, *, purpose: str = "training") -> Path:
    """Fill a folder with what a job (``"training"``) or the endpoint (``"inference"``) uploads.

    * training: ``train.py``, ``metrics.py``, ``inference.py``, the training
      ``requirements.txt`` and the course package ``utils/`` (``train.py`` imports
      ``utils.models``, ``utils.data``, ``utils.training``, ``utils.checkpoint``) with
      ``offline/progress.py`` (the progress bar ``utils.env`` imports); the job code itself
      (``sagemaker_code/``) and the notebook-side ``sagemaker_workflow.py`` stay out.
    * inference: ``inference.py``, ``requirements.txt`` holding only what serving needs (the
      serving container installs the file of that name) and the ``utils`` modules the handler
      imports.

    Inside a job (and in model.tar.gz's ``code/``) the scripts find ``utils`` next to
    themselves. The SageMaker SDK refuses a source folder under some system paths, ``/root``
    among them (:func:`sdk_refuses`); when ``dest`` is one, the same folder name is staged under
    the temporary directory instead. Returns the folder it filled.
    """
    if purpose not in ("training", "inference"):
        raise ValueError(f"purpose must be 'training' or 'inference', got {purpose!r}.")
    dest = staging_folder(Path(dest))
    if dest.exists():
        shutil.rmtree(dest)
    code, utils_dir = repo_root() / "utils" / "sagemaker_code", repo_root() / "utils"
    dest.mkdir(parents=True)
    if purpose == "training":
        for name in CODE_FILES:
            shutil.copy2(code / name, dest / name)
        shutil.copytree(utils_dir, dest / "utils", ignore=shutil.ignore_patterns(*NOT_SHIPPED))
        (dest / "offline").mkdir()  # utils' progress bar lives there; the image lacks it
        for name in OFFLINE_SHIPPED:
            shutil.copy2(repo_root() / "offline" / name, dest / "offline" / name)
    else:
        for name in INFERENCE_FILES:
            shutil.copy2(code / name, dest / name)
        shutil.copy2(code / INFERENCE_REQUIREMENTS, dest / "requirements.txt")
        (dest / "utils").mkdir()
        for name in INFERENCE_UTILS:
            shutil.copy2(utils_dir / name, dest / "utils" / name)
    return dest


def export_image_folder(samples, classes, dest) -> Path:
    """Copy ``(path, label)`` samples into ``dest/<class>/`` (an ImageFolder for a channel).

    Files keep their names, prefixed by their index so two sources cannot collide.
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    if not samples:
        raise ValueError("No images to export: the training split is empty.")
    for index, (path, label) in enumerate(samples):
        folder = dest / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / f"{index:05d}_{Path(path).name}")
    return dest


def job_history(session, model_artifacts_uri: str) -> list[dict]:
    """The per-epoch history a job saved: ``metrics.json`` in the ``output.tar.gz`` that
    SageMaker writes next to ``model.tar.gz``."""
    uri = model_artifacts_uri.rsplit("/", 1)[0] + "/output.tar.gz"
    with _s3_tarball(session, uri) as tar:
        member = tar.extractfile("metrics.json")
        if member is None:
            raise FileNotFoundError(f"No metrics.json in {uri}")
        return json.loads(member.read())["history"]


def _s3_tarball(session, uri: str):
    """An S3 ``.tar.gz`` opened in memory (use as a context manager)."""
    import io
    import tarfile

    from offline.aws_emulator import split_s3_uri

    bucket, key = split_s3_uri(uri)
    body = session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return tarfile.open(fileobj=io.BytesIO(body), mode="r:gz")


def job_log(session, job_name: str, last: int = 12) -> str:
    """The last ``last`` lines of a training job's log in CloudWatch Logs."""
    logs = session.boto_session.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group,
                                        logStreamNamePrefix=f"{job_name}/")["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                     limit=last, startFromHead=False)["events"]
        lines += [e["message"] for e in events]
    return "\n".join(lines[-last:])


def load_job_model(session, model_artifacts_uri: str, dest):
    """Download a job's ``model.tar.gz`` into ``dest`` and load it: ``(model, classes, meta)``.

    The same file the endpoint serves, loaded with :func:`utils.checkpoint.load_checkpoint` (as
    the endpoint's ``inference.py`` does), so a notebook can check that the endpoint answers
    what the model answers locally.
    """
    from .checkpoint import load_checkpoint

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _s3_tarball(session, model_artifacts_uri) as tar:
        tar.extractall(dest, filter="data")
    return load_checkpoint(dest / "model.pt")


def latest_training_job(connection, base_job_name: str):
    """The newest training job named ``<base_job_name>-<time>`` (what ``ModelTrainer.train``
    started), as the SDK's ``TrainingJob`` resource; ``None`` if there is none."""
    from sagemaker.core.resources import TrainingJob

    jobs = connection.sagemaker_client.list_training_jobs(
        NameContains=base_job_name, SortBy="CreationTime", SortOrder="Descending",
        MaxResults=10)["TrainingJobSummaries"]
    names = [j["TrainingJobName"] for j in jobs
             if j["TrainingJobName"].startswith(f"{base_job_name}-")]
    if not names:
        return None
    return TrainingJob.get(training_job_name=names[0], session=connection.session.boto_session,
                           region=connection.region)


def running_jobs(sagemaker_client, prefix: str) -> dict[str, list[str]]:
    """Training and tuning jobs whose names start with ``prefix`` that are still running (and
    billing)."""
    found = {}
    for kind, call, key, name in (
            ("training_jobs", "list_training_jobs", "TrainingJobSummaries", "TrainingJobName"),
            ("tuning_jobs", "list_hyper_parameter_tuning_jobs",
             "HyperParameterTuningJobSummaries", "HyperParameterTuningJobName")):
        reply = getattr(sagemaker_client, call)(NameContains=prefix, StatusEquals="InProgress",
                                                MaxResults=100)
        found[kind] = [j[name] for j in reply.get(key, []) if j[name].startswith(prefix)]
    return found


@contextmanager
def stop_if_interrupted(connection, trainer=None, tuner=None):
    """Stop the training or tuning jobs started in this block if the block does not finish.

    ``train(wait=True)`` and ``tune(wait=True)`` only *wait*: interrupting the cell (or an error
    while waiting) leaves the job running, and billing, on SageMaker. This stops every job
    still running under the trainer's ``base_job_name`` (or the tuner's
    ``base_tuning_job_name``), then re-raises.
    """
    try:
        yield
    except BaseException:
        client = connection.sagemaker_client
        if trainer is not None and trainer.base_job_name:
            for name in running_jobs(client, trainer.base_job_name)["training_jobs"]:
                stop_if_in_progress(client, "TrainingJob", name, "training job")
        if tuner is not None and tuner.base_tuning_job_name:
            for name in running_jobs(client, tuner.base_tuning_job_name)["tuning_jobs"]:
                stop_if_in_progress(client, "HyperParameterTuningJob", name, "tuning job")
        raise


def stop_if_in_progress(client, kind: str, name: str, label: str) -> None:
    """``kind`` is the API's resource name: describe_<kind>, stop_<kind>, <kind>Name, Status."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
    key = {f"{kind}Name": name}
    if getattr(client, f"describe_{snake}")(**key)[f"{kind}Status"] == "InProgress":
        getattr(client, f"stop_{snake}")(**key)
        print(f"Stopped {label} {name} (the cell did not finish).")


@dataclass
class Trial:
    """One training job of a tuning job."""

    job: str
    status: str
    hyperparameters: dict[str, str]  # the tuned values, as the service reports them (text)
    objective: float | None  # the objective metric's final value (None: never reported)
    billable_seconds: int | None
    started: str | None = None  # when it started and ended training (ISO 8601): trials that
    ended: str | None = None  # ran in parallel (max_parallel_jobs > 1) overlap in time


def tuning_trials(sagemaker_client, tuning_job_name: str) -> list[Trial]:
    """The trials of a tuning job, in launch order: tuned values, objective, billable seconds."""
    reply = sagemaker_client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_job_name, MaxResults=100)
    trials = []
    for s in reply.get("TrainingJobSummaries", []):
        objective = s.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        job = sagemaker_client.describe_training_job(TrainingJobName=s["TrainingJobName"])
        trials.append(Trial(job=s["TrainingJobName"], status=s["TrainingJobStatus"],
                            hyperparameters=dict(s.get("TunedHyperParameters", {})),
                            objective=objective.get("Value"),
                            billable_seconds=job.get("BillableTimeInSeconds"),
                            started=_iso(job.get("TrainingStartTime")),
                            ended=_iso(job.get("TrainingEndTime"))))
    return sorted(trials, key=lambda t: t.job)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def trials_table(trials: list[Trial], *, best_job: str | None = None,
                 objective: str = "val_acc") -> pd.DataFrame:
    """One row per trial (numbered from 1): tuned values, objective, seconds, the tuner's pick.

    A tuned value column that is all numbers (``lr``) becomes numeric; ``best`` marks
    ``best_job``.
    """
    rows = [{"trial": i, **t.hyperparameters, objective: t.objective,
             "billable_seconds": t.billable_seconds, "status": t.status,
             "best": t.job == best_job, "job": t.job} for i, t in enumerate(trials, start=1)]
    table = pd.DataFrame(rows).set_index("trial")
    for name in {k for t in trials for k in t.hyperparameters}:
        numbers = pd.to_numeric(table[name], errors="coerce")
        if numbers.notna().all():
            table[name] = numbers
    return table


#: Memory one emulated tuning trial took at chapter 06's defaults (peak RSS of its process,
#: measured with the chapter's own run: see the README's Studio section).
TRIAL_GIB = 1.3


def trials_that_fit(*, at_most: int = 2, per_trial_gib: float = TRIAL_GIB,
                    meminfo="/proc/meminfo") -> int:
    """How many emulated tuning trials can run at once in the memory this machine has free
    now (``MemAvailable``), between 1 and ``at_most``. Where that is unknown: ``at_most``."""
    try:
        fields = dict(line.split(":", 1) for line in open(meminfo).read().splitlines())
        available_gib = int(fields["MemAvailable"].split()[0]) / 2**20
    except (OSError, KeyError, ValueError):
        return at_most
    return max(1, min(at_most, int(available_gib // per_trial_gib)))
