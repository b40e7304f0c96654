"""Chapter 06's SageMaker workflow, minus the SDK calls the chapter makes itself.

* :func:`connect`: the emulator (default, free) or real AWS (only when asked), with clear
  errors for missing credentials, role or region. Every client, the SDK's CloudWatch Logs
  client included, uses the chapter's region; every object the SDK uploads goes under the
  chapter's S3 prefix. :func:`show_job_logs` prints a job's log while ``wait(logs=True)``
  waits, through the SDK's own logger.
* :func:`stage_source`: the folders the jobs and the endpoint upload: ``train.py`` (or
  ``inference.py``) with its own ``requirements.txt`` and a copy of the course package
  ``utils/``, staged where the SDK accepts a source folder, wherever the course is cloned.
* :func:`job_cost_estimate` (a :class:`CostEstimate`) and :func:`estimate_table`: the
  worst-case bill of a training or tuning job, shown before launching; :func:`measured_bill`
  afterwards. Rates default to :data:`utils.costs.HOURLY_RATES` and
  :data:`utils.costs.SPOT_SAVINGS`. :func:`serverless_request_usd` and
  :func:`endpoint_cost_table`: a real-time endpoint (per hour) against a serverless one (per
  request).
* :func:`tuning_trials` (:class:`Trial` rows) and :func:`trials_table`: what a tuning job ran.
* :func:`predict`, :func:`delete_endpoint_resources`, :func:`delete_s3_prefix`,
  :func:`leftover_resources`: invoke an endpoint with a clear error for a rejected request, and
  clean up after it, S3 included.

The notebook calls the SageMaker Python SDK (v3) directly for everything a learner should
see: ``ModelTrainer``, ``HyperparameterTuner`` and ``ModelBuilder``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from . import costs
from .env import repo_root

MODES = ("emulator", "aws")
#: SDK configuration that turns off the SDK's usage telemetry (an HTTPS call to AWS).
NO_TELEMETRY = {"SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
#: The file SageMaker Studio puts in every space (how the SDK knows it runs in Studio).
STUDIO_METADATA = "/opt/ml/metadata/resource-metadata.json"
_OPEN: list = []  # connections opened by connect(), closed when it is called again
CODE_FILES = ("train.py", "inference.py", "metrics.py", "requirements.txt")
#: Course modules a job does not need (the emulator runs beside the notebook, not in a job).
NOT_SHIPPED = ("sagemaker_code", "sagemaker_workflow.py", "__pycache__")
#: What the endpoint's ``code/`` holds: the handler, its requirements (copied as
#: ``requirements.txt``, the name the serving container installs) and the three course
#: modules it imports.
INFERENCE_FILES = ("inference.py",)
INFERENCE_REQUIREMENTS = "requirements-inference.txt"
INFERENCE_UTILS = ("__init__.py", "models.py", "checkpoint.py")
#: Folders the SDK refuses as a source folder (``sagemaker.core.common_utils``), if that list
#: cannot be imported; ModelBuilder raises "source_directory cannot access sensitive system
#: paths" for anything under them.
REFUSED_FALLBACK = ("~/.aws", "~/.ssh", "~/.kube", "~/.docker", "~/.config", "~/.credentials",
                    "/etc", "/root", "/var/lib", "/opt/ml/metadata")
#: SageMaker Serverless Inference rates, us-east-1: compute per GB of configured memory per
#: second of processing (billed per millisecond), and data processed in and out per GB.
SERVERLESS_RATES = {"usd_per_gb_second": 0.00002, "usd_per_gb_data": 0.016}
SERVERLESS_SOURCE = (
    "third-party figures: compute $0.00002 per GB-second from a public AWS price cache dated "
    "2026-03-07 (us-east-1, copied from AWS's Price List API); data $0.016 per GB in and out "
    "from a December 2023 SageMaker bill (eu-west-1) published in the aws-samples repository "
    "sagemaker-ssh-helper. Not re-checked against AWS's pricing page")


class AwsSetupError(RuntimeError):
    """AWS is not set up for what the notebook was asked to do (credentials, role, mode)."""


class EndpointRequestError(RuntimeError):
    """The endpoint rejected a request; ``status`` is the model server's HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"The endpoint answered {status}: {message}")
        self.status, self.message = status, message


@dataclass
class Connection:
    """Where the chapter's SageMaker calls go, and with which role and bucket."""

    mode: str
    session: object  # sagemaker.core.helper.session_helper.Session
    role_arn: str
    bucket: str
    region: str
    emulator: object | None = None  # offline.aws_emulator.Emulator in emulator mode
    saved_region: dict | None = None  # AWS_DEFAULT_REGION before connect() set it (aws mode)

    @property
    def sagemaker_client(self):
        return self.session.sagemaker_client

    @property
    def runtime_client(self):
        return self.session.boto_session.client("sagemaker-runtime")

    def close(self) -> None:
        """Stop the emulator (emulator mode); on real AWS, restore the default region."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.saved_region is not None:
            for key, value in self.saved_region.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self.saved_region = None

    def describe(self) -> str:
        where = (f"the offline emulator at {self.emulator.url}" if self.emulator
                 else f"real AWS ({self.region}): jobs and endpoints cost money")
        return f"SageMaker calls go to {where}\n  role:   {self.role_arn}\n  bucket: {self.bucket}"


def connect(mode: str = "emulator", *, region: str = "us-east-1", role_arn: str | None = None,
            bucket: str | None = None, workdir=None, s3_prefix: str | None = None) -> Connection:
    """Open a SageMaker session on the emulator (``"emulator"``) or on real AWS (``"aws"``).

    Emulator mode starts :mod:`offline.aws_emulator` and uses its role and bucket (the SDK's
    ``default_bucket()`` and ``get_execution_role()`` ask STS at an address the emulator cannot
    intercept); it also shortens the SDK's waiting between status checks. AWS mode needs
    credentials and ``role_arn`` (in SageMaker Studio, the execution role is found
    automatically); ``bucket=None`` uses the SDK's default bucket. ``s3_prefix`` becomes the
    session's ``default_bucket_prefix``: what the SDK uploads on its own (job code, the
    repacked model) goes under it, so deleting the prefix deletes everything. Every client, and
    the SDK's CloudWatch Logs client, is built for ``region``.
    """
    if mode not in MODES:
        raise AwsSetupError(f"aws_mode must be one of {MODES}, got {mode!r}. Use 'emulator' to "
                            "run offline for free, 'aws' to create real (billed) resources.")
    import boto3

    for previous in _OPEN:  # re-running the cell must not leave an emulator behind
        previous.close()
    _OPEN.clear()
    if mode == "emulator":
        from offline import aws_emulator

        emulator = aws_emulator.start(workdir=workdir)
        try:
            # no SDK telemetry either: emulator mode must not contact AWS at all
            session = _session(boto3.Session(region_name=emulator.region), emulator.bucket,
                               s3_prefix, sagemaker_config=NO_TELEMETRY)
        except Exception:
            emulator.stop()
            raise
        connection = Connection(mode, session, emulator.role_arn, emulator.bucket,
                                emulator.region, emulator)
        _OPEN.append(connection)
        return connection

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if "127.0.0.1" in endpoint or "localhost" in endpoint or (
            os.environ.get("AWS_ACCESS_KEY_ID") == "emulator"):
        raise AwsSetupError(
            f"aws_mode='aws' but this process still points at a local emulator "
            f"(AWS_ENDPOINT_URL={endpoint or 'unset'}). Restart the kernel, or unset "
            "AWS_ENDPOINT_URL and the emulator's credentials, before using real AWS.")
    boto_session = boto3.Session(region_name=region)
    if boto_session.get_credentials() is None:
        raise AwsSetupError(
            "aws_mode='aws' but no AWS credentials were found. In SageMaker Studio they come "
            "with the space; elsewhere run `aws configure` (or set AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY), or use aws_mode='emulator' to run offline.")
    if role_arn is None:
        if not Path(STUDIO_METADATA).is_file():
            raise AwsSetupError(
                "aws_mode='aws' needs role_arn outside SageMaker Studio: the ARN of an IAM role "
                "that SageMaker can assume (arn:aws:iam::<account>:role/<name>) with access to "
                "your bucket. (Your own login role usually cannot be assumed by SageMaker.)")
        try:
            from sagemaker.core.helper.session_helper import get_execution_role

            role_arn = get_execution_role()
        except Exception as err:  # noqa: BLE001 - report it in one line
            raise AwsSetupError(
                "aws_mode='aws': the Studio execution role could not be found "
                f"({type(err).__name__}: {err}). Pass role_arn explicitly.") from None
    # Clients the SDK builds from a default boto3 session must get the chapter's region too:
    # without any default region, importing ModelBuilder even fails (NoRegionError).
    saved = {key: os.environ.get(key) for key in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
    try:
        session = _session(boto_session, bucket, s3_prefix)
        connection = Connection(mode, session, role_arn, bucket or session.default_bucket(),
                                region, saved_region=saved)
    except BaseException:
        Connection(mode, None, "", "", region, saved_region=saved).close()
        raise
    _OPEN.append(connection)
    return connection


def _session(boto_session, bucket, s3_prefix=None, sagemaker_config=None):
    """A SageMaker session on ``boto_session``, and the SDK's logs client on the same region."""
    from sagemaker.core.helper.session_helper import Session

    session = Session(boto_session=boto_session, default_bucket=bucket,
                      default_bucket_prefix=s3_prefix, sagemaker_config=sagemaker_config)
    use_region_for_sdk_logs(boto_session)
    return session


def use_region_for_sdk_logs(boto_session) -> None:
    """Build the SDK's CloudWatch Logs client (``wait(logs=True)`` reads the job log with it)
    from ``boto_session``.

    sagemaker-core keeps one logs client per process, made on first use from a *default*
    boto3 session: the machine's default region (``NoRegionError`` without one, no log lines
    from a different one) and, in emulator mode, whichever emulator was running then.
    """
    from botocore.config import Config
    from sagemaker.core.utils.logs import CloudWatchLogsClient

    CloudWatchLogsClient().client = boto_session.client(
        "logs", region_name=boto_session.region_name,
        config=Config(retries={"max_attempts": 10, "mode": "standard"}))


class _JobLogFormatter(logging.Formatter):
    """The SDK logs each job log line as ``"<stream>:\n<line>"``: print ``"[<host>] <line>"``.

    Its own messages carry rich markup (``[bold]``), which plain text does without.
    """

    def format(self, record: logging.LogRecord) -> str:
        import re

        message = record.getMessage()
        stream, newline, line = message.partition(":\n")
        if newline and "/" in stream and " " not in stream:
            host = stream.rsplit("/", 1)[-1].rsplit("-", 1)[0]  # "<job>/algo-1-<time>"
            return f"[{host}] {line}"
        return re.sub(r"\[/?(?:bold|italic|red|green|yellow|blue)\]", "", message)


JOB_LOGGER = "sagemaker.core.resources"  # where TrainingJob.wait(logs=True) logs the job log


def show_job_logs(stream=None) -> logging.Handler:
    """Print what the SDK logs while it waits for a job: the job's log lines and its status.

    ``TrainingJob.wait(logs=True)`` (what ``ModelTrainer.train(logs=True)`` calls) reads the
    job's CloudWatch log and hands each line to the ``sagemaker.core.resources`` logger at INFO
    level. The SDK leaves that logger at Python's default level (WARNING) with a do-nothing
    handler, so by default nothing prints. This attaches one handler writing to ``stream``
    (default: ``sys.stdout`` as it is now, i.e. the notebook cell's output) and sets the level
    to INFO; calling it again replaces the handler. The records stop there (no propagation to
    the root logger, whose handler, if any, would print them a second time). Returns the
    handler.
    """
    logger = logging.getLogger(JOB_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, "_course", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(_JobLogFormatter())
    handler._course = True
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a handler on the root logger would print every line twice
    return handler


def stage_source(dest, *, purpose: str = "training") -> Path:
    """Fill a folder with what a job (``"training"``) or the endpoint (``"inference"``) uploads.

    * training: ``train.py``, ``metrics.py``, ``inference.py``, the training
      ``requirements.txt`` and the course package ``utils/`` (``train.py`` imports
      ``utils.models``, ``utils.data``, ``utils.training``, ``utils.checkpoint``); the job code
      itself (``sagemaker_code/``) and the notebook-side ``sagemaker_workflow.py`` stay out.
    * inference: ``inference.py``, ``requirements.txt`` holding only what serving needs (the
      serving container installs the file of that name) and the three ``utils`` modules the
      handler imports.

    Inside a job (and in model.tar.gz's ``code/``) the scripts find ``utils`` next to
    themselves. The SageMaker SDK refuses a source folder under some system paths, ``/root``
    among them (:func:`sdk_refuses`); when ``dest`` is one, the same folder name is staged under
    the temporary directory instead. Returns the folder it filled.
    """
    if purpose not in ("training", "inference"):
        raise ValueError(f"purpose must be 'training' or 'inference', got {purpose!r}.")
    dest = _acceptable_dest(Path(dest))
    if dest.exists():
        shutil.rmtree(dest)
    code, utils_dir = repo_root() / "utils" / "sagemaker_code", repo_root() / "utils"
    dest.mkdir(parents=True)
    if purpose == "training":
        for name in CODE_FILES:
            shutil.copy2(code / name, dest / name)
        shutil.copytree(utils_dir, dest / "utils", ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    else:
        for name in INFERENCE_FILES:
            shutil.copy2(code / name, dest / name)
        shutil.copy2(code / INFERENCE_REQUIREMENTS, dest / "requirements.txt")
        (dest / "utils").mkdir()
        for name in INFERENCE_UTILS:
            shutil.copy2(utils_dir / name, dest / "utils" / name)
    return dest


def sdk_refuses(path) -> bool:
    """Whether the SageMaker SDK refuses ``path`` as a source folder (as ModelBuilder checks:
    the resolved path starts with one of ``sagemaker.core.common_utils._SENSITIVE_SYSTEM_PATHS``).
    """
    try:
        from sagemaker.core.common_utils import _SENSITIVE_SYSTEM_PATHS as refused
    except ImportError:  # pragma: no cover - another SDK version
        refused = [os.path.abspath(os.path.expanduser(p)) for p in REFUSED_FALLBACK]
    resolved = os.path.abspath(os.path.realpath(path))
    return any(resolved != "/" and resolved.startswith(prefix) for prefix in refused)


def _acceptable_dest(dest: Path) -> Path:
    """``dest``, or a folder of the same name under a temporary directory the SDK accepts."""
    if not sdk_refuses(dest):
        return dest
    import hashlib

    tag = hashlib.sha1(str(dest.resolve()).encode()).hexdigest()[:10]
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        candidate = Path(base) / f"course-staging-{os.getuid()}-{tag}" / dest.name
        if not sdk_refuses(candidate) and os.access(base, os.W_OK):
            return candidate
    raise AwsSetupError(
        f"The SageMaker SDK refuses source folders under {dest} (e.g. /root) and no temporary "
        "directory it accepts is writable. Set TMPDIR to a writable folder outside /root.")


@dataclass
class CostEstimate:
    """The most a training job (or a tuning job's trials) can be billed, known before it runs."""

    instance_type: str
    instance_count: int
    jobs: int
    instance_seconds: int  # jobs x instances x max_run
    use_spot: bool
    worst_case_usd: float  # every job runs to max_run at the on-demand rate
    with_spot_usd: float  # the same seconds at the assumed managed-spot saving
    expected_usd: float  # with_spot_usd if use_spot else worst_case_usd


def job_cost_estimate(*, instance_type: str, instance_count: int, max_run_s: int,
                      use_spot: bool, jobs: int = 1, hourly_rates: dict | None = None,
                      spot_savings: float | None = None) -> CostEstimate:
    """The most a job (or ``jobs`` tuning trials) can be billed: every trial runs to max_run.

    Uses :func:`utils.costs.cost_table` on ``jobs * instance_count * max_run_s`` instance
    seconds. With spot the expected bill is lower by ``spot_savings``, but SageMaker still
    stops the job at ``max_run``; the worst case is the on-demand figure. ``hourly_rates`` and
    ``spot_savings`` default to :data:`utils.costs.HOURLY_RATES` and
    :data:`utils.costs.SPOT_SAVINGS`.
    """
    spot_savings = costs.SPOT_SAVINGS if spot_savings is None else spot_savings
    seconds = jobs * instance_count * max_run_s
    row = costs.cost_table({"job": seconds},
                           hourly_rates={instance_type: _rate(instance_type, hourly_rates)},
                           spot_savings=spot_savings).iloc[0]
    worst, spot = float(row["on_demand_usd"]), float(row["spot_usd"])
    return CostEstimate(instance_type=instance_type, instance_count=instance_count, jobs=jobs,
                        instance_seconds=seconds, use_spot=use_spot, worst_case_usd=worst,
                        with_spot_usd=spot, expected_usd=spot if use_spot else worst)


def estimate_table(estimates: dict[str, CostEstimate]) -> pd.DataFrame:
    """One row per estimate, indexed by its name (e.g. ``"training job"``)."""
    rows = [{"what": what, **asdict(estimate)} for what, estimate in estimates.items()]
    return pd.DataFrame(rows).set_index("what")


def serverless_request_usd(*, memory_mb: int, seconds: float, bytes_in: int, bytes_out: int,
                           rates: dict | None = None) -> float:
    """What one request to a serverless endpoint costs: ``memory_mb`` of configured memory
    for ``seconds`` of processing (billed per millisecond, rounded up), plus the request and
    reply data. ``rates`` defaults to :data:`SERVERLESS_RATES` (third-party figures)."""
    rates = SERVERLESS_RATES if rates is None else rates
    if memory_mb <= 0 or seconds < 0 or bytes_in < 0 or bytes_out < 0:
        raise ValueError("memory_mb must be > 0; seconds and bytes must be >= 0.")
    billed_seconds = math.ceil(seconds * 1000) / 1000
    compute = memory_mb / 1024 * billed_seconds * rates["usd_per_gb_second"]
    return compute + (bytes_in + bytes_out) / 1024**3 * rates["usd_per_gb_data"]


def endpoint_cost_table(requests_per_hour, *, instance_type: str, memory_mb: int,
                        seconds_per_request: float, bytes_in: int, bytes_out: int,
                        instance_count: int = 1, hourly_rates: dict | None = None,
                        serverless_rates: dict | None = None) -> pd.DataFrame:
    """Dollars per hour of a real-time endpoint and of a serverless one, per traffic level.

    A real-time endpoint bills ``instance_count`` instances for every hour it exists, used or
    not; a serverless one bills each request (:func:`serverless_request_usd`) and nothing while
    idle. One row per value of ``requests_per_hour``.
    """
    hourly = _rate(instance_type, hourly_rates) * instance_count
    per_request = serverless_request_usd(memory_mb=memory_mb, seconds=seconds_per_request,
                                         bytes_in=bytes_in, bytes_out=bytes_out,
                                         rates=serverless_rates)
    rows = [{"requests_per_hour": n, f"real_time_usd_per_hour ({instance_type})": hourly,
             f"serverless_usd_per_hour ({memory_mb} MB)": n * per_request,
             "cheaper": "serverless" if n * per_request < hourly else "real-time"}
            for n in requests_per_hour]
    return pd.DataFrame(rows).set_index("requests_per_hour")


def predict(runtime_client, endpoint_name: str, body: bytes, *, content_type: str,
            k: int | None = None) -> dict:
    """Invoke an endpoint; returns the parsed JSON reply.

    A request the model server rejects (SageMaker's ``ModelError``) raises
    :class:`EndpointRequestError` with the server's own status and message.
    """
    from botocore.exceptions import ClientError

    if k is not None and content_type == "application/json":
        payload = json.loads(body)
        payload["k"] = k
        body = json.dumps(payload).encode()
    try:
        reply = runtime_client.invoke_endpoint(EndpointName=endpoint_name, Body=body,
                                               ContentType=content_type,
                                               Accept="application/json")
    except ClientError as err:
        error = err.response.get("Error", {})
        if error.get("Code") != "ModelError":
            raise
        status = int(err.response.get("OriginalStatusCode") or 0)
        original = err.response.get("OriginalMessage") or error.get("Message", "")
        try:
            original = json.loads(original).get("error", original)
        except (ValueError, AttributeError):
            pass
        raise EndpointRequestError(status, original) from None
    return json.loads(reply["Body"].read())


def ready_to_build(builder):
    """Let ``builder.build()`` run on SageMaker SDK 3.12 as well (a compatibility shim).

    SDK 3.12.0, the one SageMaker Distribution 4.4.1 ships in Studio, repacks the model inside
    ``builder.model_path`` without creating that folder, and hands the default
    ``dependencies={"auto": True}`` to the repacker as if it were a list of files; both fail.
    Later releases create the folder and ignore ``dependencies`` there (it is deprecated). So:
    create the folder, and clear a ``dependencies`` that only says ``auto``. Nothing else changes
    on any version. Returns ``builder``.
    """
    model_path = getattr(builder, "model_path", None)
    if model_path and "://" not in str(model_path):
        Path(model_path).mkdir(parents=True, exist_ok=True)
    dependencies = getattr(builder, "dependencies", None)
    if isinstance(dependencies, dict) and set(dependencies) <= {"auto"}:
        builder.dependencies = {}
    return builder


def delete_endpoint_resources(sagemaker_client, endpoint_name: str | None = None,
                              model_names=()) -> list[str]:
    """Delete an endpoint, its endpoint config and the models; returns what was deleted.

    Tolerates resources that were never created (a deploy that failed half-way), so it is safe
    in a ``finally``.
    """
    deleted, failed = [], []

    def attempt(kind: str, call, **kwargs):
        name = next(iter(kwargs.values()))
        try:
            call(**kwargs)
            deleted.append(f"{kind} {name}")
        except sagemaker_client.exceptions.ClientError as err:
            if "Could not find" not in str(err) and "not found" not in str(err).lower():
                failed.append(f"{kind} {name}: {err}")

    if endpoint_name:
        config_name = None
        try:
            config_name = sagemaker_client.describe_endpoint(
                EndpointName=endpoint_name)["EndpointConfigName"]
        except sagemaker_client.exceptions.ClientError:
            config_name = endpoint_name  # ModelBuilder names the config after the endpoint
        attempt("endpoint", sagemaker_client.delete_endpoint, EndpointName=endpoint_name)
        attempt("endpoint config", sagemaker_client.delete_endpoint_config,
                EndpointConfigName=config_name)
    for name in model_names:
        attempt("model", sagemaker_client.delete_model, ModelName=name)
    if failed:  # every delete was tried; say what is left, in the console's words
        raise AwsSetupError("Could not delete (delete them in the SageMaker console, they may "
                            "still bill): " + "; ".join(failed))
    return deleted


def delete_s3_objects(s3_client, uris) -> int:
    """Delete single objects given by ``s3://`` URI (what the SDK uploaded outside the run's
    prefix); returns how many were deleted. Missing objects are not an error."""
    from offline.aws_emulator import split_s3_uri

    count = 0
    for uri in uris:
        bucket, key = split_s3_uri(uri)
        s3_client.delete_object(Bucket=bucket, Key=key)
        count += 1
    return count


def leftover_resources(sagemaker_client, prefix: str = "", *, s3_client=None,
                       bucket: str | None = None, s3_prefix: str | None = None,
                       ) -> dict[str, list[str]]:
    """Endpoints, endpoint configs and models whose names start with ``prefix``: what bills.

    With ``s3_client``, ``bucket`` and ``s3_prefix`` it also lists the objects left under that
    prefix (``"s3_objects"``): storage bills too, by the GB-month.
    """
    found = {}
    for kind, call, key, name in (
            ("endpoints", "list_endpoints", "Endpoints", "EndpointName"),
            ("endpoint_configs", "list_endpoint_configs", "EndpointConfigs",
             "EndpointConfigName"),
            ("models", "list_models", "Models", "ModelName")):
        names, kwargs = [], {"NameContains": prefix} if prefix else {}
        while True:
            page = getattr(sagemaker_client, call)(**kwargs)
            names += [item[name] for item in page.get(key, [])]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        found[kind] = [n for n in names if n.startswith(prefix)]
    if s3_client is not None:
        if not bucket or not s3_prefix:
            raise ValueError("Listing S3 leftovers needs bucket and s3_prefix.")
        found["s3_objects"] = s3_objects(s3_client, bucket, s3_prefix)
    return found


def s3_objects(s3_client, bucket: str, prefix: str) -> list[str]:
    """The keys of every object under ``prefix`` in ``bucket``."""
    keys = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def delete_s3_prefix(s3_client, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (data, code, checkpoints, outputs, models).

    ``prefix`` must be a folder below the bucket's top (``course-06/<run>/``), never the whole
    bucket. Returns how many objects were deleted; raises :class:`AwsSetupError` naming the
    objects that could not be.
    """
    prefix = prefix.strip("/")
    if not prefix:
        raise ValueError("Refusing to delete a whole bucket: pass the chapter's own prefix.")
    keys = s3_objects(s3_client, bucket, prefix + "/")
    failed = []
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
        reply = s3_client.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
        failed += [f"{e['Key']}: {e.get('Message', e.get('Code'))}"
                   for e in reply.get("Errors", [])]
    if failed:
        raise AwsSetupError(f"Could not delete {len(failed)} object(s) in s3://{bucket}/{prefix}/ "
                            "(delete them in the S3 console): " + "; ".join(failed[:5]))
    return len(keys)


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


def jpeg_bytes(image, quality: int = 95) -> bytes:
    """A PIL image as JPEG bytes: what a client uploads to the endpoint."""
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


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


def quiet_sdk_logs() -> None:
    """Keep the SDK's own progress messages, drop botocore's per-request INFO/DEBUG lines.

    Also silences the SDK's "No region provided. Using default region." warning: it is logged
    whenever a resource is created without an explicit region argument, even though the
    session passed along (ours) has one, and the session's region is what is used.
    """
    for name in ("botocore", "sagemaker.config", "sagemaker.core.telemetry"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("sagemaker.core.utils.utils").setLevel(logging.ERROR)


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


@contextmanager
def stop_if_interrupted(connection: Connection, trainer=None, tuner=None):
    """Stop the training or tuning job started in this block if the block does not finish.

    ``train(wait=True)`` and ``tune(wait=True)`` only *wait*: interrupting the cell (or an error
    while waiting) leaves the job running, and billing, on SageMaker. This stops it, then
    re-raises.
    """
    try:
        yield
    except BaseException:
        job = getattr(trainer, "_latest_training_job", None)
        if job is not None:
            _stop_if_in_progress(connection.sagemaker_client, "TrainingJob",
                                 job.training_job_name, "training job")
        tuning = getattr(tuner, "latest_tuning_job", None)
        if tuning is not None:
            _stop_if_in_progress(connection.sagemaker_client, "HyperParameterTuningJob",
                                 tuning.hyper_parameter_tuning_job_name, "tuning job")
        raise


def _stop_if_in_progress(client, kind: str, name: str, label: str) -> None:
    """``kind`` is the API's resource name: describe_<kind>, stop_<kind>, <kind>Name, Status."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
    key = {f"{kind}Name": name}
    if getattr(client, f"describe_{snake}")(**key)[f"{kind}Status"] == "InProgress":
        getattr(client, f"stop_{snake}")(**key)
        print(f"Stopped {label} {name} (the cell did not finish).")


def measured_bill(*, billable_seconds: int, instance_count: int, instance_type: str,
                  hourly_rates: dict | None = None) -> float:
    """Dollars for a finished job: SageMaker's ``BillableTimeInSeconds`` (per instance, already
    net of any managed-spot saving) x instances x the on-demand rate (``hourly_rates``, default
    :data:`utils.costs.HOURLY_RATES`)."""
    return billable_seconds * instance_count / 3600 * _rate(instance_type, hourly_rates)


def _rate(instance_type: str, hourly_rates: dict | None = None) -> float:
    hourly_rates = costs.HOURLY_RATES if hourly_rates is None else hourly_rates
    if instance_type not in hourly_rates:
        raise KeyError(f"No hourly rate for {instance_type!r}: add it to hourly_rates "
                       f"(known: {sorted(hourly_rates)}).")
    return hourly_rates[instance_type]
