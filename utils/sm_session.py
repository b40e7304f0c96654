"""Chapter 06's connection to SageMaker: the emulator (default, free) or real AWS.

* :func:`connect` opens a session (a :class:`Connection`): clear errors for missing
  credentials, role or region; every client, the SDK's CloudWatch Logs client included, uses
  the chapter's region (``region=None``: the session's own, else ``us-east-1``; see
  :func:`resolve_region`); every object the SDK uploads goes under the chapter's S3 prefix.
* :func:`show_job_logs` prints a job's log while ``wait(logs=True)`` waits, through the SDK's
  own logger; :func:`quiet_sdk_logs` drops botocore's per-request lines.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: Where ``region=None`` falls back to when the session names no region.
DEFAULT_REGION = "us-east-1"


MODES = ("emulator", "aws")


#: SDK configuration that turns off the SDK's usage telemetry (an HTTPS call to AWS).
NO_TELEMETRY = {"SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


#: The file SageMaker Studio puts in every space (how the SDK knows it runs in Studio).
STUDIO_METADATA = "/opt/ml/metadata/resource-metadata.json"


_OPEN: list = []  # connections opened by connect(), closed when it is called again


class AwsSetupError(RuntimeError):
    """AWS is not set up for what the notebook was asked to do (credentials, role, mode)."""


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
    region_source: str = "given"  # how the region was chosen (resolve_region)

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
        return (f"SageMaker calls go to {where}\n  region: {self.region} ({self.region_source})"
                f"\n  role:   {self.role_arn}\n  bucket: {self.bucket}")


def resolve_region(region: str | None, boto_session=None) -> tuple[str, str]:
    """``(region, how it was chosen)``: ``region`` if given, else the session's own (what
    ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` or the AWS config name: in SageMaker Studio, the
    domain's region), else :data:`DEFAULT_REGION`."""
    if region:
        return region, "given"
    if boto_session is None:
        import boto3

        boto_session = boto3.Session()
    if boto_session.region_name:
        return boto_session.region_name, "the session's region"
    return DEFAULT_REGION, f"no region configured: {DEFAULT_REGION}"


def connect(mode: str = "emulator", *, region: str | None = None, role_arn: str | None = None,
            bucket: str | None = None, workdir=None, s3_prefix: str | None = None) -> Connection:
    """Open a SageMaker session on the emulator (``"emulator"``) or on real AWS (``"aws"``).

    Emulator mode starts :mod:`offline.aws_emulator` and uses its role and bucket (the SDK's
    ``default_bucket()`` and ``get_execution_role()`` ask STS at an address the emulator cannot
    intercept); it also shortens the SDK's waiting between status checks. AWS mode needs
    credentials and ``role_arn`` (in SageMaker Studio, the execution role is found
    automatically); ``bucket=None`` uses the SDK's default bucket. ``s3_prefix`` becomes the
    session's ``default_bucket_prefix``: what the SDK uploads on its own (job code, the
    repacked model) goes under it, so deleting the prefix deletes everything. Every client, and
    the SDK's CloudWatch Logs client, is built for ``region`` (``None``: see
    :func:`resolve_region`; the emulator always answers as ``us-east-1``).
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
            session = sagemaker_session(boto3.Session(region_name=emulator.region), emulator.bucket,
                               s3_prefix, sagemaker_config=NO_TELEMETRY)
        except Exception:
            emulator.stop()
            raise
        connection = Connection(mode, session, emulator.role_arn, emulator.bucket,
                                emulator.region, emulator,
                                region_source="the emulator's" if not region else
                                f"the emulator's; region={region!r} applies in aws mode")
        _OPEN.append(connection)
        return connection

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if "127.0.0.1" in endpoint or "localhost" in endpoint or (
            os.environ.get("AWS_ACCESS_KEY_ID") == "emulator"):
        raise AwsSetupError(
            f"aws_mode='aws' but this process still points at a local emulator "
            f"(AWS_ENDPOINT_URL={endpoint or 'unset'}). Restart the kernel, or unset "
            "AWS_ENDPOINT_URL and the emulator's credentials, before using real AWS.")
    region, region_source = resolve_region(region)
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
        session = sagemaker_session(boto_session, bucket, s3_prefix)
        connection = Connection(mode, session, role_arn, bucket or session.default_bucket(),
                                region, saved_region=saved, region_source=region_source)
    except BaseException:
        Connection(mode, None, "", "", region, saved_region=saved).close()
        raise
    _OPEN.append(connection)
    return connection


def sagemaker_session(boto_session, bucket, s3_prefix=None, sagemaker_config=None):
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


def quiet_sdk_logs() -> None:
    """Keep the SDK's own progress messages, drop botocore's per-request INFO/DEBUG lines.

    Also silences the SDK's "No region provided. Using default region." warning: it is logged
    whenever a resource is created without an explicit region argument, even though the
    session passed along (ours) has one, and the session's region is what is used.
    """
    for name in ("botocore", "sagemaker.config", "sagemaker.core.telemetry"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("sagemaker.core.utils.utils").setLevel(logging.ERROR)
