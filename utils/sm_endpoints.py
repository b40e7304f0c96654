"""Chapter 06's endpoint calls and clean-up.

* :func:`predict`: invoke an endpoint, with one clear error (:class:`EndpointRequestError`)
  for a request the model server rejects; :func:`jpeg_bytes` is what a client uploads.
* :func:`delete_endpoint_resources`, :func:`delete_s3_prefix`, :func:`delete_s3_objects`,
  :func:`delete_log_groups`: clean-up that tolerates what was never created, so it is safe in a
  ``finally``; :func:`leftover_resources` lists what is still there (and bills).
"""

from __future__ import annotations

import json

from .sm_session import AwsSetupError


class EndpointRequestError(RuntimeError):
    """The endpoint rejected a request; ``status`` is the model server's HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"The endpoint answered {status}: {message}")
        self.status, self.message = status, message


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


def jpeg_bytes(image, quality: int = 95) -> bytes:
    """A PIL image as JPEG bytes: what a client uploads to the endpoint."""
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


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


TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"  # one group for every job of the account
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/"  # one group per endpoint


def delete_logs(logs_client, prefix: str) -> list[str]:
    """Delete the CloudWatch logs of the jobs and endpoints whose names start with ``prefix``:
    their streams in the account's shared training-job group (the group itself holds other
    jobs' logs too) and each endpoint's own group. Returns what was deleted."""
    deleted = []
    for stream in _log_streams(logs_client, prefix):
        logs_client.delete_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
        deleted.append(f"log stream {stream}")
    for group in _log_groups(logs_client, ENDPOINT_LOG_GROUP + prefix):
        logs_client.delete_log_group(logGroupName=group)
        deleted.append(f"log group {group}")
    return deleted


def _log_groups(logs_client, prefix: str) -> list[str]:
    groups = []
    for page in logs_client.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix):
        groups += [g["logGroupName"] for g in page.get("logGroups", [])]
    return groups


def _log_streams(logs_client, prefix: str) -> list[str]:
    if not _log_groups(logs_client, TRAINING_LOG_GROUP):
        return []
    streams = []
    for page in logs_client.get_paginator("describe_log_streams").paginate(
            logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=prefix):
        streams += [s["logStreamName"] for s in page.get("logStreams", [])]
    return streams


def _wait_until_ended(sagemaker_client, name: str, *, tuning: bool, timeout: float = 600,
                      poll: float = 1.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tuning:
            status = sagemaker_client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name)["HyperParameterTuningJobStatus"]
        else:
            status = sagemaker_client.describe_training_job(
                TrainingJobName=name)["TrainingJobStatus"]
        if status not in ("InProgress", "Stopping"):
            return
        time.sleep(poll)
    raise AwsSetupError(f"{name} is still stopping after {timeout:.0f} s: check it in the "
                        "SageMaker console before deleting its S3 prefix.")


def everything_left(connection, *, prefix: str, s3_prefix: str) -> dict[str, list[str]]:
    """What a run left that bills or stores: endpoints, configs and models named ``prefix...``,
    objects under ``s3_prefix``, running training and tuning jobs, and CloudWatch logs
    (``prefix...`` job streams and endpoint log groups)."""
    from .sm_jobs import running_jobs

    boto = connection.session.boto_session
    logs = boto.client("logs")
    found = leftover_resources(connection.sagemaker_client, prefix, s3_client=boto.client("s3"),
                               bucket=connection.bucket, s3_prefix=f"{s3_prefix}/")
    found.update(running_jobs(connection.sagemaker_client, prefix))
    found["log_streams"] = _log_streams(logs, prefix)
    found["log_groups"] = _log_groups(logs, ENDPOINT_LOG_GROUP + prefix)
    return found


def clean_up(connection, *, prefix: str, s3_prefix: str,
             keep_s3: bool = False) -> dict[str, list[str]]:
    """Everything a run of chapter 06 may leave, deleted in one call that is safe in a
    ``finally`` (each step runs even if an earlier one failed; then the first error is raised).

    ``prefix`` starts the name of every job, endpoint, endpoint config and model of the run
    (``flowers-<run>``): running training and tuning jobs are stopped (and waited for: a
    stopping job still uploads), endpoints, configs and models deleted; then, unless
    ``keep_s3``, every object under ``s3_prefix/`` and the keys starting with ``prefix`` (the
    tuner uploads the trials' code under ``<base_job_name>/``, outside the session's prefix);
    then the CloudWatch logs of the run's jobs and endpoints. Returns what was done, by kind.
    """
    from .sm_jobs import running_jobs, stop_if_in_progress

    session = connection.session
    sm, logs = connection.sagemaker_client, session.boto_session.client("logs")
    s3 = session.boto_session.client("s3")
    done: dict[str, list[str]] = {"stopped": [], "endpoints": [], "s3": [], "logs": []}
    errors = []

    def step(kind, action):
        try:
            done[kind] += action()
        except Exception as err:  # noqa: BLE001 - try every step, then report
            errors.append(err)

    def stop_jobs():
        running = running_jobs(sm, prefix)
        for kind, names in (("HyperParameterTuningJob", running["tuning_jobs"]),
                            ("TrainingJob", running["training_jobs"])):
            for name in names:
                stop_if_in_progress(sm, kind, name, kind)
        for name in running["tuning_jobs"] + running["training_jobs"]:
            _wait_until_ended(sm, name, tuning=name in running["tuning_jobs"])
        return running["tuning_jobs"] + running["training_jobs"]

    def delete_endpoints():
        left = leftover_resources(sm, prefix)
        deleted = []
        for endpoint in left["endpoints"]:
            deleted += delete_endpoint_resources(sm, endpoint)
        left = leftover_resources(sm, prefix)  # configs and models of no (or a failed) endpoint
        for config in left["endpoint_configs"]:
            sm.delete_endpoint_config(EndpointConfigName=config)
            deleted.append(f"endpoint config {config}")
        return deleted + delete_endpoint_resources(sm, None, left["models"])

    def delete_s3():
        count = delete_s3_prefix(s3, connection.bucket, s3_prefix)
        outside = [f"s3://{connection.bucket}/{key}"
                   for key in s3_objects(s3, connection.bucket, prefix)]
        return [f"{count} objects under {s3_prefix}/",
                f"{delete_s3_objects(s3, outside)} objects under {prefix}*"]

    step("stopped", stop_jobs)
    step("endpoints", delete_endpoints)
    if not keep_s3:
        step("s3", delete_s3)
    step("logs", lambda: delete_logs(logs, prefix))
    if errors:
        raise errors[0]
    return done


_HOOKS: list = []  # the post-run hook clean_up_on_error registered, if any


def clean_up_on_error(connection, *, prefix: str, s3_prefix: str, keep_s3: bool = False,
                      report=None) -> bool:
    """Run :func:`clean_up` as soon as any later notebook cell fails or is interrupted.

    A notebook cannot put a ``finally`` around several cells; an IPython ``post_run_cell``
    hook does the same job: after a cell that raised (an error, or Ctrl-C / the stop button),
    it stops and deletes everything of the run, prints what it did, and writes that and what
    is left (:func:`everything_left`) to ``report`` (a JSON file: ``cleaned``, ``left``) if
    given. Registering again replaces the previous hook. Returns ``False`` outside IPython
    (nothing registered).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    if shell is None:
        return False
    for hook in _HOOKS:
        try:
            shell.events.unregister("post_run_cell", hook)
        except ValueError:
            pass
    _HOOKS.clear()

    def after_cell(result):
        if result.success or getattr(connection, "session", None) is None:
            return
        print("The cell stopped: cleaning up everything this run created ...")
        done = {}
        try:
            done = clean_up(connection, prefix=prefix, s3_prefix=s3_prefix, keep_s3=keep_s3)
            print("Cleaned up:", {k: v for k, v in done.items() if v})
        finally:
            left = everything_left(connection, prefix=prefix, s3_prefix=s3_prefix)
            print("Still there:", {k: v for k, v in left.items() if v} or "nothing")
            if report is not None:
                from pathlib import Path

                Path(report).write_text(json.dumps({"cleaned": done, "left": left}, indent=1))

    shell.events.register("post_run_cell", after_cell)
    _HOOKS.append(after_cell)
    return True
