"""Chapter 06's helpers (``utils.sagemaker_workflow``): modes, staging, costs, errors, clean-up."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from offline import synthetic
from utils import sagemaker_workflow as smw
from utils import sm_session


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(smw.AwsSetupError, match="aws_mode must be one of"):
        smw.connect("production")


def _no_aws(monkeypatch, tmp_path):
    """No credential source at all, and a dead local endpoint as a safety net."""
    import os

    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_aws_mode_without_credentials_stops_before_anything_is_created(tmp_path, monkeypatch):
    _no_aws(monkeypatch, tmp_path)
    with pytest.raises(smw.AwsSetupError, match="no AWS credentials"):
        smw.connect("aws", role_arn="arn:aws:iam::111122223333:role/x")


def test_aws_mode_refuses_while_pointed_at_the_emulator(tmp_path, monkeypatch):
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(smw.AwsSetupError, match="still points at a local emulator"):
        smw.connect("aws", role_arn="arn:aws:iam::111122223333:role/x")


def test_aws_mode_outside_studio_needs_a_role(tmp_path, monkeypatch):
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setattr(sm_session, "STUDIO_METADATA", str(tmp_path / "not-studio.json"))
    with pytest.raises(smw.AwsSetupError, match="needs role_arn outside SageMaker Studio"):
        smw.connect("aws")


def test_emulator_mode_opts_out_of_sdk_telemetry(tmp_path):
    """Emulator mode must not contact AWS, not even the SDK's usage telemetry."""
    from sagemaker.core.config.config_schema import TELEMETRY_OPT_OUT_PATH
    from sagemaker.core.telemetry.telemetry_logging import resolve_value_from_config

    aws = smw.connect("emulator", workdir=tmp_path)
    try:
        assert resolve_value_from_config(None, TELEMETRY_OPT_OUT_PATH, False,
                                         aws.session) is True
        again = smw.connect("emulator", workdir=tmp_path / "again")  # closes the first one
        assert aws.emulator is None and again.emulator.process.poll() is None
        again.close()
    finally:
        aws.close()


def test_staged_source_holds_the_job_code_and_the_course_package(tmp_path):
    source = smw.stage_source(tmp_path / "src")
    names = {p.name for p in source.iterdir()}
    assert names == {"train.py", "launchers.py", "inference.py", "metrics.py", "requirements.txt",
                     "utils", "offline"}
    # of offline/, only the progress bar utils imports: not the emulator or the generators
    assert sorted(p.name for p in (source / "offline").iterdir()) == ["__init__.py",
                                                                      "progress.py"]
    shipped = {p.name for p in (source / "utils").iterdir()}
    assert {"models.py", "data.py", "training.py", "checkpoint.py", "__init__.py"} <= shipped
    assert not {"sagemaker_code", "sagemaker_workflow.py", "aws_emulator.py",
                "__pycache__"} & shipped
    again = smw.stage_source(tmp_path / "src")  # re-staging replaces, never merges
    assert {p.name for p in again.iterdir()} == names


def test_export_image_folder_lays_out_one_folder_per_class(tmp_path):
    root = synthetic.generate("flowers", tmp_path / "gen", n_per_class=2, size=32,
                              classes=["button_daisy", "cup_tulip"], progress=False)
    samples = [(str(p), i) for i, c in enumerate(["button_daisy", "cup_tulip"])
               for p in sorted((root / c).iterdir())]
    out = smw.export_image_folder(samples, ["button_daisy", "cup_tulip"], tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["button_daisy", "cup_tulip"]
    assert sum(1 for _ in out.rglob("*.png")) + sum(1 for _ in out.rglob("*.jpg")) == 4
    with pytest.raises(ValueError, match="empty"):
        smw.export_image_folder([], ["a"], tmp_path / "none")


def test_cost_estimate_is_the_worst_case_of_max_run():
    rates = {"ml.m5.xlarge": 0.23}
    one = smw.job_cost_estimate(instance_type="ml.m5.xlarge", instance_count=1, max_run_s=1800,
                                use_spot=True, hourly_rates=rates, spot_savings=0.7)
    assert one.worst_case_usd == pytest.approx(0.115)
    assert one.with_spot_usd == pytest.approx(0.115 * 0.3)
    assert one.expected_usd == one.with_spot_usd
    tuning = smw.job_cost_estimate(instance_type="ml.m5.xlarge", instance_count=2,
                                   max_run_s=1800, use_spot=False, jobs=4, hourly_rates=rates,
                                   spot_savings=0.7)
    assert tuning.worst_case_usd == pytest.approx(8 * 0.115)
    assert tuning.expected_usd == tuning.worst_case_usd
    table = smw.estimate_table({"Training": one, "Tuning": tuning})
    assert list(table.index) == ["Training", "Tuning"] and table.loc["Tuning", "jobs"] == 4
    assert table.loc["Tuning", "worst_case_usd"] == tuning.worst_case_usd
    with pytest.raises(KeyError, match="No hourly rate for 'ml.p5.48xlarge'"):
        smw.job_cost_estimate(instance_type="ml.p5.48xlarge", instance_count=1, max_run_s=60,
                              use_spot=True, hourly_rates=rates, spot_savings=0.7)


def test_rates_default_to_the_course_cost_module():
    from utils import costs

    estimate = smw.job_cost_estimate(instance_type="ml.m5.xlarge", instance_count=1,
                                     max_run_s=3600, use_spot=True)
    assert estimate.worst_case_usd == pytest.approx(costs.HOURLY_RATES["ml.m5.xlarge"])
    assert estimate.with_spot_usd == pytest.approx(
        costs.HOURLY_RATES["ml.m5.xlarge"] * (1 - costs.SPOT_SAVINGS))
    assert smw.measured_bill(billable_seconds=3600, instance_count=1,
                             instance_type="ml.m5.large") == costs.HOURLY_RATES["ml.m5.large"]


class _Runtime:
    """A SageMaker Runtime client stub that answers like the real service."""

    def __init__(self, error=None, reply=None):
        self.error, self.reply, self.calls = error, reply, []

    def invoke_endpoint(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        import io

        return {"Body": io.BytesIO(json.dumps(self.reply).encode())}


def _model_error(status, body):
    return ClientError({"Error": {"Code": "ModelError", "Message": "Received client error"},
                        "OriginalStatusCode": status, "OriginalMessage": body},
                       "InvokeEndpoint")


def test_predict_turns_a_model_error_into_one_clear_line():
    runtime = _Runtime(_model_error(415, json.dumps({"error": "Content type 'text/csv' is not "
                                                              "supported.", "status": 415})))
    with pytest.raises(smw.EndpointRequestError) as info:
        smw.predict(runtime, "ep", b"1,2", content_type="text/csv")
    assert info.value.status == 415
    assert str(info.value) == "The endpoint answered 415: Content type 'text/csv' is not " \
                              "supported."


def test_predict_passes_other_errors_through_and_parses_replies():
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "x"}}, "Invoke")
    with pytest.raises(ClientError):
        smw.predict(_Runtime(other), "ep", b"", content_type="image/png")
    runtime = _Runtime(reply={"predictions": [], "k": 2})
    assert smw.predict(runtime, "ep", b'{"image": "abc"}', content_type="application/json",
                       k=2)["k"] == 2
    assert json.loads(runtime.calls[0]["Body"])["k"] == 2


class _SageMaker:
    """A SageMaker client stub: some resources exist, the rest answer 'Could not find'."""

    class exceptions:  # noqa: N801 - mirrors boto3's client.exceptions
        ClientError = ClientError

    def __init__(self, existing):
        self.existing = set(existing)

    def _delete(self, kind, name):
        if (kind, name) not in self.existing:
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": f"Could not find {kind} {name}"}}, kind)
        self.existing.remove((kind, name))

    def describe_endpoint(self, EndpointName):  # noqa: N803 - boto3's argument names
        if ("endpoint", EndpointName) not in self.existing:
            self._delete("endpoint", EndpointName)
        return {"EndpointConfigName": f"{EndpointName}-config"}

    def delete_endpoint(self, EndpointName):  # noqa: N803
        self._delete("endpoint", EndpointName)

    def delete_endpoint_config(self, EndpointConfigName):  # noqa: N803
        self._delete("config", EndpointConfigName)

    def delete_model(self, ModelName):  # noqa: N803
        self._delete("model", ModelName)


def test_cleanup_deletes_what_exists_and_tolerates_what_does_not():
    client = _SageMaker({("endpoint", "ep"), ("config", "ep-config"), ("model", "m")})
    deleted = smw.delete_endpoint_resources(client, "ep", ["m"])
    assert deleted == ["endpoint ep", "endpoint config ep-config", "model m"]
    assert client.existing == set()
    # a deploy that failed before the endpoint existed: only the model is there
    client = _SageMaker({("model", "m2")})
    assert smw.delete_endpoint_resources(client, "ep2", ["m2"]) == ["model m2"]


def test_pipeline_question_answer_and_evidence():
    from utils import questions, quiz

    question = questions.get("sagemaker_plan")
    evidence = {"endpoint_acc": 0.9, "trials": 4}
    feedback = quiz.check_answer(question, question.answer.lower(), evidence)
    assert feedback.correct and "90%" in feedback.message and "4 trials" in feedback.message
    wrong = next(k for k in question.options if k != question.answer)
    assert not quiz.check_answer(question, wrong, evidence).correct


def test_trials_table_marks_the_tuners_best():
    def trial(job, lr, stages, objective, seconds):
        return smw.Trial(job=job, status="Completed", objective=objective,
                         hyperparameters={"lr": lr, "trainable_stages": stages},
                         billable_seconds=seconds)

    trials = [trial("t1", "0.001", "2", 0.5, 9), trial("t2", "0.01", "all", 0.75, 12),
              trial("t3", "0.1", "0", None, None)]
    table = smw.trials_table(trials, best_job="t2")
    assert list(table.index) == [1, 2, 3] and "val_acc" in table.columns
    assert table.loc[2, "best"] and table.loc[2, "val_acc"] == 0.75
    assert not table.loc[1, "best"] and not table.loc[3, "best"]
    assert pd.isna(table.loc[3, "val_acc"])
    assert table["lr"].tolist() == [0.001, 0.01, 0.1]  # numbers, for sorting and plotting
    assert table["trainable_stages"].tolist() == ["2", "all", "0"]  # "all" keeps them text


def test_tuning_trials_reads_the_service_in_launch_order():
    class Client:
        def list_training_jobs_for_hyper_parameter_tuning_job(self, **kw):
            return {"TrainingJobSummaries": [
                {"TrainingJobName": "tune-002", "TrainingJobStatus": "Failed",
                 "TunedHyperParameters": {"lr": "0.1"}},
                {"TrainingJobName": "tune-001", "TrainingJobStatus": "Completed",
                 "TunedHyperParameters": {"lr": "0.01"},
                 "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.5}}]}

        def describe_training_job(self, TrainingJobName):  # noqa: N803 - boto3's names
            return {"BillableTimeInSeconds": 7} if TrainingJobName == "tune-001" else {}

    first, second = smw.tuning_trials(Client(), "tune")
    assert first == smw.Trial(job="tune-001", status="Completed", hyperparameters={"lr": "0.01"},
                              objective=0.5, billable_seconds=7)
    assert (second.job, second.objective, second.billable_seconds) == ("tune-002", None, None)


def test_measured_bill():
    assert smw.measured_bill(billable_seconds=3600, instance_count=2, instance_type="ml.m5.xlarge",
                             hourly_rates={"ml.m5.xlarge": 0.23}) == pytest.approx(0.46)
    with pytest.raises(KeyError, match="No hourly rate"):
        smw.measured_bill(billable_seconds=1, instance_count=1, instance_type="ml.x",
                          hourly_rates={})


def test_cleanup_tries_everything_then_reports_what_is_left():
    client = _SageMaker({("endpoint", "ep"), ("config", "ep-config"), ("model", "m")})

    def denied(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "Del")

    client.delete_endpoint_config = denied
    with pytest.raises(smw.AwsSetupError, match="endpoint config ep-config: .*not allowed"):
        smw.delete_endpoint_resources(client, "ep", ["m"])
    assert client.existing == {("config", "ep-config")}  # the model was still deleted


def test_leftover_resources_follows_pages():
    class Lister:
        def list_endpoints(self, **kw):
            if "NextToken" not in kw:
                return {"Endpoints": [{"EndpointName": "flowers-1"}], "NextToken": "p2"}
            return {"Endpoints": [{"EndpointName": "flowers-2"}]}

        def list_endpoint_configs(self, **kw):
            return {"EndpointConfigs": [{"EndpointConfigName": "other"}]}

        def list_models(self, **kw):
            return {"Models": []}

    assert smw.leftover_resources(Lister(), "flowers") == {
        "endpoints": ["flowers-1", "flowers-2"], "endpoint_configs": [], "models": []}


def test_an_interrupted_cell_stops_the_jobs_it_started(capsys):
    """The jobs are found by the trainer's and tuner's base names (public attributes), through
    the service's own listing: only those still in progress are stopped."""
    calls = []
    jobs = {"flowers-1-train-2026": "InProgress", "flowers-1-train-2025": "Completed",
            "other-train-2026": "InProgress"}

    class Client:
        def list_training_jobs(self, NameContains, StatusEquals, MaxResults):  # noqa: N803
            return {"TrainingJobSummaries": [
                {"TrainingJobName": n} for n, status in jobs.items()
                if NameContains in n and status == StatusEquals]}

        def list_hyper_parameter_tuning_jobs(self, NameContains, StatusEquals,  # noqa: N803
                                             MaxResults):  # noqa: N803
            return {"HyperParameterTuningJobSummaries": []}  # the tuning job finished

        def describe_training_job(self, TrainingJobName):  # noqa: N803 - boto3's names
            return {"TrainingJobStatus": jobs[TrainingJobName]}

        def stop_training_job(self, TrainingJobName):  # noqa: N803
            calls.append(("training", TrainingJobName))

        def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName):  # noqa: N803
            calls.append(("tuning", HyperParameterTuningJobName))

    class Named:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    connection = smw.Connection("aws", Named(sagemaker_client=Client()), "r", "b", "us-east-1")
    trainer = Named(base_job_name="flowers-1-train")
    tuner = Named(base_tuning_job_name="flowers-1-tune")
    with pytest.raises(KeyboardInterrupt), smw.stop_if_interrupted(connection, trainer, tuner):
        raise KeyboardInterrupt
    assert calls == [("training", "flowers-1-train-2026")]  # not the finished one, nor others
    assert "Stopped training job flowers-1-train-2026" in capsys.readouterr().out
    with smw.stop_if_interrupted(connection, trainer, tuner):
        pass  # a cell that finishes stops nothing
    assert calls == [("training", "flowers-1-train-2026")]


# --------------------------------------------------------------------------------------------
# Issue 13: region, job logs, staging, serverless costs, S3 clean-up, imports
# --------------------------------------------------------------------------------------------


def test_aws_mode_builds_every_client_for_the_chapters_region(tmp_path, monkeypatch):
    """The SDK's CloudWatch Logs client (wait(logs=True) reads the job log with it) follows
    the chapter's region, not the machine's default one. Nothing is sent to AWS here."""
    from sagemaker.core.utils.logs import CloudWatchLogsClient

    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")  # a different default region
    logs = CloudWatchLogsClient()
    monkeypatch.setattr(logs, "client", logs.client)  # restored after the test
    import boto3

    aws = smw.connect("aws", region="eu-west-1", role_arn="arn:aws:iam::111122223333:role/x",
                      bucket="my-bucket", s3_prefix="course-06/run")
    assert aws.region == aws.session.boto_region_name == "eu-west-1"
    assert aws.sagemaker_client.meta.region_name == "eu-west-1"
    assert aws.runtime_client.meta.region_name == "eu-west-1"
    assert CloudWatchLogsClient().client.meta.region_name == "eu-west-1"
    assert boto3.Session().region_name == "eu-west-1"  # what the SDK builds on its own
    assert aws.session.default_bucket_prefix == "course-06/run" and aws.bucket == "my-bucket"
    aws.close()
    assert os.environ["AWS_DEFAULT_REGION"] == "ap-southeast-2"  # the machine's, back


def test_aws_mode_without_a_default_region_still_gets_a_logs_client(tmp_path, monkeypatch):
    """With no default region anywhere, the SDK's own logs client raised NoRegionError after
    the job had started; the one connect() builds has the chapter's region."""
    from sagemaker.core.utils.logs import CloudWatchLogsClient

    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the singleton's first build needs one
    logs = CloudWatchLogsClient()
    monkeypatch.setattr(logs, "client", logs.client)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    aws = smw.connect("aws", region="us-west-2", role_arn="arn:aws:iam::111122223333:role/x",
                      bucket="b")
    assert CloudWatchLogsClient().client.meta.region_name == "us-west-2"
    import sagemaker.serve.model_builder  # noqa: F401 - fails without any default region
    aws.close()
    assert "AWS_DEFAULT_REGION" not in os.environ


def test_job_log_lines_print_through_the_sdks_logger():
    """TrainingJob.wait(logs=True) logs '<stream>:\\n<line>' on sagemaker.core.resources at
    INFO; by default nothing prints. show_job_logs prints it, once, as '[algo-1] <line>'."""
    import io
    import logging

    from sagemaker.core import resources

    logger = logging.getLogger(smw.JOB_LOGGER)
    assert resources.logger is logger  # the logger the SDK's wait() writes to
    saved = logger.level, list(logger.handlers), logger.propagate
    try:
        first, out = io.StringIO(), io.StringIO()
        smw.show_job_logs(first)
        smw.show_job_logs(out)  # replaces the first handler: a re-run cell prints once
        resources.logger.info("flowers-species-1/algo-1-1700000000:\nepoch=1 val_acc=0.5",
                              extra={"markup": False})
        resources.logger.info("Final Resource Status: [bold]Completed")
        assert out.getvalue() == ("[algo-1] epoch=1 val_acc=0.5\n"
                                  "Final Resource Status: Completed\n")
        assert first.getvalue() == "" and logger.propagate is False
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]
        logger.propagate = saved[2]


def test_staging_for_inference_ships_only_what_serving_needs(tmp_path):
    serving = smw.stage_source(tmp_path / "serving", purpose="inference")
    assert {p.name for p in serving.iterdir()} == {"inference.py", "requirements.txt", "utils"}
    assert sorted(p.name for p in (serving / "utils").iterdir()) == [
        "__init__.py", "checkpoint.py", "models.py", "photos.py", "precision.py"]
    needs = [line for line in (serving / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    assert needs == ["timm>=1.0"]
    with pytest.raises(ValueError, match="purpose"):
        smw.stage_source(tmp_path / "x", purpose="serving")


def test_staging_from_a_clone_under_root_gives_a_folder_the_sdk_accepts(tmp_path):
    """ModelBuilder refuses a source folder under /root (the SDK's sensitive paths). A course
    cloned there stages its code elsewhere, and the SDK's own repack accepts the result."""
    import subprocess
    import sys
    import tarfile
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    from sagemaker.core.common_utils import _validate_source_directory, repack_model

    root = Path("/root")
    if not (root.is_dir() and os.access(root, os.W_OK)):
        pytest.skip("needs a writable /root (the test runs as root in CI)")
    repo = Path(__file__).resolve().parent.parent
    clone = Path(tempfile.mkdtemp(prefix="course-clone-", dir=root))
    try:
        shutil.copytree(repo / "utils", clone / "utils",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (clone / "README.md").write_text("a clone under /root\n")
        wanted = clone / "runs" / "06_sagemaker" / "serving"
        env = {**os.environ, "PYTHONPATH": str(clone)}
        script = ("import sys; from pathlib import Path; import utils; "
                  "from utils import sagemaker_workflow as smw; "
                  "assert Path(utils.__file__).is_relative_to(Path(sys.argv[2])); "
                  "print(smw.stage_source(Path(sys.argv[1]), purpose='inference'))")
        staged = Path(subprocess.run([sys.executable, "-c", script, str(wanted), str(clone)],
                                     env=env, cwd=clone, capture_output=True, text=True,
                                     check=True).stdout.strip())
        with pytest.raises(ValueError, match="sensitive system paths"):
            _validate_source_directory(str(clone))  # what the course would have passed
        assert not staged.is_relative_to(root) and staged.name == "serving"
        assert (staged / "inference.py").is_file() and not smw.sdk_refuses(staged)
        _validate_source_directory(str(staged))
        model = tmp_path / "model.tar.gz"
        (tmp_path / "model.pt").write_bytes(b"weights")
        with tarfile.open(model, "w:gz") as tar:
            tar.add(tmp_path / "model.pt", arcname="model.pt")
        repack_model(inference_script="inference.py", source_directory=str(staged),
                     dependencies=[], model_uri=f"file://{model}",
                     repacked_model_uri=f"file://{tmp_path / 'repacked.tar.gz'}",
                     sagemaker_session=SimpleNamespace(settings=None))
        with tarfile.open(tmp_path / "repacked.tar.gz") as tar:
            names = {n.lstrip("./") for n in tar.getnames()}
        assert {"model.pt", "code/inference.py", "code/utils/checkpoint.py"} <= names
        shutil.rmtree(staged.parent, ignore_errors=True)
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_serverless_request_cost_is_memory_time_plus_data():
    rates = {"usd_per_gb_second": 0.00002, "usd_per_gb_data": 0.016}
    usd = smw.serverless_request_usd(memory_mb=2048, seconds=0.1004, bytes_in=0,
                                     bytes_out=0, rates=rates)
    assert usd == pytest.approx(2 * 0.101 * 0.00002)  # billed per ms, rounded up
    data = smw.serverless_request_usd(memory_mb=1024, seconds=0, bytes_in=1024**3 // 2,
                                      bytes_out=1024**3 // 2, rates=rates)
    assert data == pytest.approx(0.016)
    with pytest.raises(ValueError):
        smw.serverless_request_usd(memory_mb=0, seconds=1, bytes_in=0, bytes_out=0)
    table = smw.endpoint_cost_table([10, 10**7], instance_type="ml.m5.large", memory_mb=2048,
                                    seconds_per_request=0.1, bytes_in=0, bytes_out=0,
                                    hourly_rates={"ml.m5.large": 0.115},
                                    serverless_rates=rates)
    assert table["cheaper"].tolist() == ["serverless", "real-time"]
    assert table.iloc[:, 0].tolist() == [0.115, 0.115]  # real-time: flat, used or not
    assert table.loc[10].iloc[1] == pytest.approx(10 * 2 * 0.1 * 0.00002)


class _S3:
    """An S3 client stub: list_objects_v2 pages of two, delete_objects."""

    def __init__(self, keys):
        self.keys = set(keys)

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        client = self

        class Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's names
                found = sorted(k for k in client.keys if k.startswith(Prefix))
                for start in range(0, max(len(found), 1), 2):
                    yield {"Contents": [{"Key": k} for k in found[start:start + 2]]}

        return Paginator()

    def delete_objects(self, Bucket, Delete):  # noqa: N803
        for item in Delete["Objects"]:
            self.keys.discard(item["Key"])
        return {}


def test_s3_clean_up_deletes_the_prefix_and_nothing_else():
    s3 = _S3(["course-06/1/a", "course-06/1/b/c", "course-06/1/d", "course-06/10/x", "other"])
    assert smw.delete_s3_prefix(s3, "bucket", "course-06/1") == 3
    assert s3.keys == {"course-06/10/x", "other"}  # not the run whose name starts the same
    with pytest.raises(ValueError, match="whole bucket"):
        smw.delete_s3_prefix(s3, "bucket", "/")


def test_leftover_resources_lists_s3_objects_too():
    class Lister:
        def list_endpoints(self, **kw):
            return {"Endpoints": []}

        def list_endpoint_configs(self, **kw):
            return {"EndpointConfigs": []}

        def list_models(self, **kw):
            return {"Models": [{"ModelName": "flowers-m"}]}

    s3 = _S3(["course-06/1/left.tar.gz", "course-06/2/other"])
    assert smw.leftover_resources(Lister(), "flowers", s3_client=s3, bucket="b",
                                  s3_prefix="course-06/1/") == {
        "endpoints": [], "endpoint_configs": [], "models": ["flowers-m"],
        "s3_objects": ["course-06/1/left.tar.gz"]}
    with pytest.raises(ValueError, match="s3_prefix"):
        smw.leftover_resources(Lister(), s3_client=s3, bucket="b")


def _chapter_imports():
    """(module, names) of every `from sagemaker... import` line in chapter 06's code cells."""
    import ast
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" /
                     "06_sagemaker.ipynb").read_text())
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sagemaker"):
                found.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(a.name, []) for a in node.names if a.name.startswith("sagemaker")]
    return found


def test_chapter_imports_no_deprecated_sdk_module(monkeypatch):
    """The SDK keeps old module paths as shims that warn ("DEPRECATED: This module has been
    moved"); the chapter imports from where the classes live now."""
    import importlib

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # importing ModelBuilder needs one

    imports = _chapter_imports()
    modules = {module for module, _ in imports}
    assert {"sagemaker.core.training.configs", "sagemaker.core.inference_config"} <= modules
    for module, names in imports:
        loaded = importlib.import_module(module)
        assert not (loaded.__doc__ or "").lstrip().upper().startswith("DEPRECATED"), module
        for name in names:
            try:
                defined = getattr(loaded, name)
            except AttributeError:  # a submodule (from sagemaker.core import image_uris)
                defined = importlib.import_module(f"{module}.{name}")
            where = getattr(defined, "__module__", module)
            assert not (importlib.import_module(where).__doc__ or "").lstrip().upper(
            ).startswith("DEPRECATED"), f"{module}.{name} comes from {where}"
    assert "sagemaker.train.configs" not in modules


def test_the_serverless_config_is_the_class_deploy_accepts(monkeypatch):
    """Two SDK classes are called ServerlessInferenceConfig; ModelBuilder.deploy only accepts
    the one in sagemaker.core.inference_config (the other falls through to an error)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # importing ModelBuilder needs one
    from sagemaker.core import inference_config, serverless_inference_config
    from sagemaker.serve import model_builder

    assert model_builder.ServerlessInferenceConfig is inference_config.ServerlessInferenceConfig
    assert (serverless_inference_config.ServerlessInferenceConfig
            is not inference_config.ServerlessInferenceConfig)
    assert ("sagemaker.core.inference_config", ["ServerlessInferenceConfig"]) in \
        _chapter_imports()


def test_docs_state_the_worst_case_of_a_first_real_run():
    """docs/sagemaker.md's "at most" figure is the chapter's defaults at the course's rates:
    every job of the training and tuning jobs running max_run on demand, and one hour of the
    endpoint."""
    import ast
    from pathlib import Path

    from utils import costs

    root = Path(__file__).resolve().parent.parent
    nb = json.loads((root / "notebooks" / "06_sagemaker.ipynb").read_text())
    (cell,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    defaults = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    assert defaults["hourly_rates"] is None and not defaults["serverless"]
    jobs = 1 + len(defaults["tuning_lrs"]) * len(defaults["tuning_stages"])
    training = smw.job_cost_estimate(instance_type=defaults["instance_type"],
                                     instance_count=defaults["instance_count"],
                                     max_run_s=defaults["max_run_s"], use_spot=True, jobs=jobs)
    worst = training.worst_case_usd + costs.HOURLY_RATES[defaults["inference_instance_type"]]
    docs = (root / "docs" / "sagemaker.md").read_text()
    section = docs[docs.index("## Chapter 06"):]
    assert f"at most\n**${worst:.2f}**" in section or f"at most **${worst:.2f}**" in section
    assert f"${training.worst_case_usd / jobs:.3f}" in section  # one job


def test_ready_to_build_applies_the_sdk_3_12_fixes_and_nothing_else(tmp_path):
    """SDK 3.12 needs model_path to exist and no {"auto": ...} dependencies; given fixes stay."""
    from types import SimpleNamespace

    builder = SimpleNamespace(model_path=str(tmp_path / "mb" / "uuid"),
                              dependencies={"auto": True})
    assert smw.ready_to_build(builder) is builder
    assert (tmp_path / "mb" / "uuid").is_dir() and builder.dependencies == {}
    mine = SimpleNamespace(model_path="s3://bucket/model.tar.gz",
                           dependencies={"requirements": "requirements.txt"})
    smw.ready_to_build(mine)  # an S3 model path is not a folder to create
    assert mine.dependencies == {"requirements": "requirements.txt"}
    assert not (tmp_path / "s3:").exists()



# --------------------------------------------------------------------------------------------
# Issue 22: requirements that leave the images alone, the Studio preflight, the region
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose, image", [("training", "training"),
                                            ("inference", "inference")])
def test_requirements_add_only_what_the_aws_image_lacks(tmp_path, purpose, image):
    """Against the package list of AWS's PyTorch 2.6 Dockerfiles (offline/aws_images.py):
    every line names a package the image does not ship, with a lower bound, never a pin."""
    from offline import aws_images

    staged = smw.stage_source(tmp_path / purpose, purpose=purpose) / "requirements.txt"
    requirements = aws_images.check_requirements(staged, image)
    assert requirements and aws_images.lacking(staged, image) == [r.name for r in requirements]
    assert all(r.specifier.startswith(">=") and "==" not in r.specifier for r in requirements)


def test_the_requirements_check_refuses_what_would_replace_the_images_packages(tmp_path):
    from offline import aws_images

    path = tmp_path / "requirements.txt"
    for line, culprit in (("torch==2.8.0", "torch"), ("torchvision>=0.22", "torchvision"),
                          ("torch<2.5 ; python_version >= '3.12'", "torch")):
        path.write_text(f"timm>=1.0\n{line}\n")
        with pytest.raises(aws_images.RequirementConflict, match=culprit):
            aws_images.check_requirements(path, "inference")
    path.write_text("timm>=1.0\ntorch<2.5 ; python_version < '3.12'\n# torch==9\n")
    assert [r.name for r in aws_images.check_requirements(path, "training")] == ["timm", "torch"]


@pytest.mark.parametrize("sdk, message", [
    ("2.245.0", "is v2; the course needs v3"),
    ("3.7.0", "older than 3.7.1"),
    ("3.16.0", "drops source_code.*fixed in 3.18"),
])
def test_the_preflight_refuses_sdks_that_break_the_chapter(sdk, message):
    with pytest.raises(smw.PreflightError, match=message):
        smw.preflight(sdk=sdk, torch="2.8.0", image_torch_version="2.8.0")


def test_the_preflight_accepts_studios_sdk_and_refuses_a_replaced_torch(tmp_path):
    from utils import sm_compat

    meta = tmp_path / "conda-meta"
    meta.mkdir()
    (meta / "pytorch-2.8.0-cpu_generic_py312_h1a2b3c_0.json").write_text("{}")
    assert sm_compat.image_torch(meta) == "2.8.0"
    assert sm_compat.image_torch(tmp_path / "nowhere") is None  # not a SageMaker image
    found = smw.preflight(sdk="3.12.0", torch="2.8.0+cpu", conda_meta=meta)
    assert found == {"sagemaker": "3.12.0", "torch": "2.8.0+cpu", "image_torch": "2.8.0"}
    assert smw.preflight(sdk="3.18.0", torch="2.9.1", conda_meta=tmp_path / "nowhere")
    with pytest.raises(smw.PreflightError, match="not the image's torch 2.8.0"):
        smw.preflight(sdk="3.12.0", torch="2.9.1", conda_meta=meta)


def test_region_none_is_the_sessions_region_then_us_east_1(tmp_path, monkeypatch):
    class Session:
        def __init__(self, region_name):
            self.region_name = region_name

    assert smw.resolve_region("eu-west-1", Session("ap-south-1")) == ("eu-west-1", "given")
    assert smw.resolve_region(None, Session("ap-south-1")) == ("ap-south-1",
                                                               "the session's region")
    assert smw.resolve_region(None, Session(None))[0] == "us-east-1"
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")  # e.g. a Studio domain's region
    aws = smw.connect("aws", role_arn="arn:aws:iam::111122223333:role/x", bucket="b")
    try:
        assert aws.region == aws.sagemaker_client.meta.region_name == "eu-central-1"
        assert "region: eu-central-1 (the session's region)" in aws.describe()
    finally:
        aws.close()


def test_the_studio_requirements_exclude_the_sdks_the_preflight_refuses():
    from pathlib import Path

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parent.parent
    (line,) = [line for line in (root / "requirements-studio.txt").read_text().splitlines()
               if line.startswith("sagemaker") and Requirement(line).name == "sagemaker"]
    allowed = Requirement(line).specifier
    assert "4.0.0" not in allowed  # an untested major: not installed, not refused either
    for version in ("2.245.0", "3.7.0", "3.15.0", "3.16.2", "3.17.1"):
        assert version not in allowed
        with pytest.raises(smw.PreflightError):
            smw.preflight(sdk=version, torch="2.8.0", image_torch_version="2.8.0")
    for version in (smw.OLDEST_SDK, "3.12.0", "3.14.3", "3.18.0", "3.27.0"):
        assert version in allowed
        smw.preflight(sdk=version, torch="2.8.0", image_torch_version="2.8.0")


def test_parallel_trials_follow_the_free_memory(tmp_path):
    meminfo = tmp_path / "meminfo"
    for available_kib, expected in ((8 * 2**20, 2), (2 * 2**20, 1), (512 * 2**10, 1)):
        meminfo.write_text(f"MemTotal: 16000000 kB\nMemAvailable: {available_kib} kB\n")
        assert smw.trials_that_fit(at_most=2, meminfo=meminfo) == expected
    assert smw.trials_that_fit(at_most=2, meminfo=tmp_path / "none") == 2


def test_the_emulator_finds_the_training_toolkit_on_the_path(tmp_path, monkeypatch):
    """pip install --user puts `train` in ~/.local/bin, not beside sys.executable: the
    emulator looks for it on the PATH, as a shell would, and says so when it is nowhere."""
    import sys

    from offline import aws_emulator

    bin_dir, elsewhere = tmp_path / "local-bin", tmp_path / "python-bin"
    bin_dir.mkdir()
    elsewhere.mkdir()
    train = bin_dir / "train"
    train.write_text("#!/bin/sh\n")
    train.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(elsewhere / "python"))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert aws_emulator._train_command() == str(train)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pip install sagemaker-training"):
        aws_emulator._train_command()
