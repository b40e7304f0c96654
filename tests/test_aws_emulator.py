"""The offline AWS of chapter 06 (``offline.aws_emulator``): the patches that make it real.

The whole train -> tune -> deploy -> invoke -> clean-up path runs in chapter 06's notebook test
(``tests/test_chapter_06.py``); here: the pieces, and the failure paths.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time

import pytest

from offline import aws_emulator
from utils.sagemaker_code.metrics import METRIC_DEFINITIONS

RANGES = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.01",
                                         "ScalingType": "Logarithmic"}],
          "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "3"}],
          "CategoricalParameterRanges": [{"Name": "trainable_stages",
                                          "Values": ["0", "2", "all"]}]}


def test_random_search_stays_in_range_and_is_seeded():
    configs = aws_emulator.sample_configurations(RANGES, 20, "Bayesian", seed=1)
    assert len(configs) == 20
    for c in configs:
        assert 1e-4 <= float(c["lr"]) <= 1e-2
        assert c["epochs"] in {"1", "2", "3"} and c["trainable_stages"] in {"0", "2", "all"}
    logs = [math.log10(float(c["lr"])) for c in configs]
    assert min(logs) < -3 < max(logs), "log scaling should cover both decades"
    assert configs == aws_emulator.sample_configurations(RANGES, 20, "Random", seed=1)


def test_grid_search_enumerates_categorical_and_integer_values():
    configs = aws_emulator.sample_configurations(RANGES, 100, "Grid")
    assert len(configs) == 9
    assert {(c["trainable_stages"], c["epochs"]) for c in configs} == {
        (s, e) for s in ("0", "2", "all") for e in ("1", "2", "3")}


def test_metrics_are_scraped_like_sagemaker():
    log = ("epoch=1 train_loss=0.9 train_acc=0.5 val_loss=0.8 val_acc=0.6 lr=0.001\n"
           "epoch=2 train_loss=0.7 train_acc=0.7 val_loss=0.6 val_acc=0.75 lr=0.0005\n"
           "final epochs=2 best_val_acc=0.75 test_loss=0.61 test_acc=0.7\n")
    found = aws_emulator.parse_metrics(log, METRIC_DEFINITIONS)
    assert found["val_acc"] == [0.6, 0.75] and found["best_val_acc"] == [0.75]
    assert found["epoch"] == [1.0, 2.0]
    assert aws_emulator.parse_metrics(log, [{"Name": "x", "Regex": "nothing=(\\d+)"}]) == {}


def test_split_s3_uri():
    assert aws_emulator.split_s3_uri("s3://b/k/p") == ("b", "k/p")
    with pytest.raises(ValueError, match="not an S3 URI"):
        aws_emulator.split_s3_uri("/local/path")


def test_an_endpoint_runs_the_utils_package_shipped_in_its_model(tmp_path, monkeypatch):
    """model.tar.gz's code/ holds the utils/ the job was trained with: the endpoint imports that
    copy, not the course package the emulator runs from, and puts the course's back after."""
    import io
    import sys
    from pathlib import Path

    from offline import synthetic
    from utils import checkpoint, models
    from utils import sagemaker_workflow as smw

    model_dir = tmp_path / "model"
    smw.stage_source(model_dir / "code")  # what ModelBuilder packs as code/
    net = models.create_model(3, pretrained=False, seed=0)
    checkpoint.save_checkpoint(model_dir / "model.pt", net, ["a", "b", "c"], image_size=32)
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")  # restored after the test
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    ours = sys.modules["utils"]
    try:
        server = aws_emulator.ModelServer(model_dir)
        assert Path(server.code_package).is_relative_to(model_dir / "code")
        assert sys.modules["utils"] is ours
        # the serving toolkit prepends code/ to PYTHONPATH; later kernels must not inherit it
        assert os.environ["PYTHONPATH"] == "/elsewhere"
        assert not any(Path(getattr(m, "__file__", None) or "/").is_relative_to(model_dir)
                       for name, m in sys.modules.items() if name.startswith("utils."))
        buffer = io.BytesIO()
        synthetic.render("flowers", "cup_tulip", size=40, seed=0, index=0).save(buffer, "PNG")
        status, body, content_type = server.invoke(buffer.getvalue(), "image/png",
                                                   "application/json")
    finally:
        sys.modules.pop("inference", None)
    assert status == 200 and content_type == "application/json"
    assert json.loads(body)["predictions"][0]["label"] in {"a", "b", "c"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    emu = aws_emulator.start(workdir=tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


def test_start_points_boto3_at_it_and_seeds_role_and_bucket(emulator):
    import boto3

    assert os.environ["AWS_ENDPOINT_URL"] == emulator.url
    assert emulator.url.startswith("http://127.0.0.1:")
    s3 = boto3.client("s3")
    assert emulator.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    iam = boto3.client("iam")
    assert iam.get_role(RoleName=aws_emulator.ROLE_NAME)["Role"]["Arn"] == emulator.role_arn


def test_role_permission_check_is_answered(emulator):
    """The SDK validates the role with SimulatePrincipalPolicy, which stock moto lacks."""
    import boto3

    reply = boto3.client("iam").simulate_principal_policy(
        PolicySourceArn=emulator.role_arn, ActionNames=["sagemaker:CreateTrainingJob",
                                                        "s3:GetObject"])
    assert [r["EvalDecision"] for r in reply["EvaluationResults"]] == ["allowed", "allowed"]


def _wait_for(client, name, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(1)
    raise AssertionError(f"{name} did not finish in {timeout} s")


@pytest.fixture(scope="module")
def sourcedir(emulator, tmp_path_factory):
    """The job code as a tuning trial gets it: sourcedir.tar.gz in S3 (toolkit launch path)."""
    import tarfile

    import boto3

    from utils import sagemaker_workflow as smw

    tmp = tmp_path_factory.mktemp("sourcedir")
    source = smw.stage_source(tmp / "source")
    (source / "requirements.txt").write_text("")  # nothing to install in the test
    with tarfile.open(tmp / "sourcedir.tar.gz", "w:gz") as tar:
        for path in source.iterdir():
            tar.add(path, arcname=path.name)
    boto3.client("s3").upload_file(str(tmp / "sourcedir.tar.gz"), emulator.bucket,
                                   "t/sourcedir.tar.gz")
    return f"s3://{emulator.bucket}/t/sourcedir.tar.gz"


def _create_job(emulator, sourcedir, name, channel_uri, *, checkpoint_config=None, **hps):
    import boto3

    sm = boto3.client("sagemaker")
    extra = {"CheckpointConfig": checkpoint_config} if checkpoint_config else {}
    sm.create_training_job(**extra,
        TrainingJobName=name, RoleArn=emulator.role_arn,
        AlgorithmSpecification={"TrainingImage": "pytorch-training:2.6-cpu-py312",
                                "TrainingInputMode": "File",
                                "MetricDefinitions": METRIC_DEFINITIONS[:2]},
        HyperParameters={"sagemaker_program": "train.py", "sagemaker_submit_directory":
                         sourcedir, **{k: str(v) for k, v in hps.items()}},
        InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": channel_uri}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{emulator.bucket}/t/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                        "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    return sm


def test_a_job_whose_script_fails_reports_the_scripts_reason(emulator, sourcedir):
    """A job on a channel without class folders fails with train.py's own message."""
    import boto3

    boto3.client("s3").put_object(Bucket=emulator.bucket, Key="t/empty/readme.txt",
                                  Body=b"no class folders")
    sm = _create_job(emulator, sourcedir, "broken-channel",
                     f"s3://{emulator.bucket}/t/empty", epochs=1)
    job = _wait_for(sm, "broken-channel")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("Data error:"), job["FailureReason"]
    assert "No class folders" in job["FailureReason"]
    assert "ModelArtifacts" not in job or not job["ModelArtifacts"].get("S3ModelArtifacts")
    events = boto3.client("logs").filter_log_events(
        logGroupName=aws_emulator.LOG_GROUP, logStreamNamePrefix="broken-channel")["events"]
    assert any("Data error" in e["message"] for e in events)


def test_a_job_importing_the_course_from_outside_its_code_fails_as_on_aws(emulator, tmp_path):
    """AWS's training image has nothing of the course: a script that imports ``offline``
    without shipping it fails with ModuleNotFoundError, although the emulator's own Python
    could import it from the repository. (The chapter's code ships what it imports: the
    other jobs here run it.)"""
    import tarfile

    import boto3

    (tmp_path / "train.py").write_text("import offline.progress  # not in the job's code\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "train.py", arcname="train.py")
    s3 = boto3.client("s3")
    s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), emulator.bucket, "u/sourcedir.tar.gz")
    s3.put_object(Bucket=emulator.bucket, Key="u/data/a/x.txt", Body=b"unused")
    sm = _create_job(emulator, f"s3://{emulator.bucket}/u/sourcedir.tar.gz", "imports-offline",
                     f"s3://{emulator.bucket}/u/data")
    job = _wait_for(sm, "imports-offline")
    assert job["TrainingJobStatus"] == "Failed", job
    log = "".join(e["message"] for e in boto3.client("logs").filter_log_events(
        logGroupName=aws_emulator.LOG_GROUP, logStreamNamePrefix="imports-offline",
        filterPattern="ModuleNotFoundError")["events"])
    assert "No module named 'offline'" in log, job


def test_stop_training_job_stops_a_running_job(emulator, sourcedir, tmp_path):
    """What the notebook calls when a training cell is interrupted: the job really stops."""
    import boto3

    from offline import synthetic

    data = synthetic.generate("flowers", tmp_path / "flowers", n_per_class=4, size=32,
                              classes=["button_daisy", "cup_tulip"], progress=False)
    s3 = boto3.client("s3")
    for path in data.rglob("*.png"):
        s3.upload_file(str(path), emulator.bucket, f"t/flowers/{path.relative_to(data)}")
    sm = _create_job(emulator, sourcedir, "long-job", f"s3://{emulator.bucket}/t/flowers",
                     epochs=500, image_size=32, batch_size=4)
    deadline = time.monotonic() + 120
    while sm.describe_training_job(TrainingJobName="long-job")["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.5)
    sm.stop_training_job(TrainingJobName="long-job")
    job = _wait_for(sm, "long-job", timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"


def test_invoking_a_missing_endpoint_is_a_clear_client_error(emulator):
    import boto3
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="nope", ContentType="image/png", Body=b"\x89PNG")
    assert "nope" in str(info.value) and "not found" in str(info.value)


def test_stop_restores_the_environment_and_ends_the_server(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    emu = aws_emulator.start(workdir=tmp_path)
    assert os.environ["AWS_ENDPOINT_URL"] == emu.url
    process = emu.process
    emu.stop()
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert process.poll() is not None and not aws_emulator._reachable(emu.url)


def test_cli_prints_the_exports(tmp_path):
    """`python -m offline.aws_emulator` is the one command; it prints what to export."""
    emu = aws_emulator.start(workdir=tmp_path, activate=False)
    try:
        text = (tmp_path / "emulator.log").read_text()
        assert f"export AWS_ENDPOINT_URL={emu.url}" in text
        assert json.dumps(aws_emulator.ROLE_ARN)[1:-1] in text
    finally:
        emu.stop()


def test_a_temporary_workdir_is_removed_on_stop():
    emu = aws_emulator.start(activate=False)
    workdir = emu.temporary_workdir
    assert workdir is not None and workdir.is_dir()
    emu.stop()
    assert not workdir.exists()


def test_activate_shortens_the_sdks_waits_and_stop_restores_them(emulator):
    """The SDK sleeps 30 s before an endpoint's first check and 5 s between job checks; the
    emulator answers within a second, so while it is active the SDK checks every half second
    (jobs: every second, the SDK wants whole seconds); without it, the SDK's own waits."""
    from sagemaker.core import resources
    from sagemaker.core.helper import session_helper
    from sagemaker.serve import model_builder

    for wait_until in (model_builder._wait_until, session_helper._wait_until):
        for args, kwargs in (((), {"poll": 30}), ((30,), {})):
            start = time.monotonic()
            assert wait_until(lambda: "done", *args, **kwargs) == "done"
            assert time.monotonic() - start < aws_emulator.FAST_POLL + 1.5
    shortened = resources.TrainingJob.wait
    aws_emulator.restore_sdk_waits()
    try:
        assert model_builder._wait_until is session_helper._wait_until  # the SDK's own
        assert resources.TrainingJob.wait is not shortened
    finally:
        aws_emulator.shorten_sdk_waits()  # the module's emulator is still active


def test_a_grid_without_a_maximum_runs_every_combination():
    grid = {"CategoricalParameterRanges": [{"Name": "lr", "Values": ["0.001"]},
                                           {"Name": "trainable_stages", "Values": ["0", "2"]}]}
    assert aws_emulator.sample_configurations(grid, 10**6, "Grid") == [
        {"lr": "0.001", "trainable_stages": "0"}, {"lr": "0.001", "trainable_stages": "2"}]


def test_a_serverless_endpoint_deploys_and_answers(emulator, tmp_path):
    """ModelBuilder.deploy with ServerlessInferenceConfig: the endpoint config has a
    ServerlessConfig and no instance type, and InvokeEndpoint runs inference.py."""
    import io
    import logging
    import tarfile

    import boto3
    from sagemaker.core.inference_config import ServerlessInferenceConfig
    from sagemaker.core.training.configs import SourceCode
    from sagemaker.serve.model_builder import ModelBuilder

    from offline import synthetic
    from utils import checkpoint, models
    from utils import sagemaker_workflow as smw

    net = models.create_model(3, pretrained=False, seed=0)
    checkpoint.save_checkpoint(tmp_path / "model" / "model.pt", net, ["a", "b", "c"],
                               image_size=32)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model" / "model.pt", arcname="model.pt")
    boto3.client("s3").upload_file(str(tmp_path / "model.tar.gz"), emulator.bucket,
                                   "serverless/model.tar.gz")
    session = smw.sagemaker_session(boto3.Session(region_name=emulator.region), emulator.bucket,
                           "serverless", sagemaker_config=smw.NO_TELEMETRY)
    serving = smw.stage_source(tmp_path / "serving", purpose="inference")
    builder = ModelBuilder(
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
        s3_model_data_url=f"s3://{emulator.bucket}/serverless/model.tar.gz",
        source_code=SourceCode(source_dir=str(serving), entry_script="inference.py"),
        role_arn=emulator.role_arn, sagemaker_session=session, log_level=logging.WARNING)
    smw.ready_to_build(builder)
    builder.build(model_name="serverless-model")
    sm = boto3.client("sagemaker")
    sleeps, real_sleep = [], time.sleep

    def recorded_sleep(seconds):  # the SDK's waiters sleep through time.sleep
        if threading.current_thread() is threading.main_thread():
            sleeps.append(seconds)
        real_sleep(seconds)

    try:
        time.sleep = recorded_sleep
        try:
            builder.deploy(endpoint_name="serverless-ep",
                           inference_config=ServerlessInferenceConfig(memory_size_in_mb=2048,
                                                                      max_concurrency=1))
        finally:
            time.sleep = real_sleep
        config = sm.describe_endpoint_config(EndpointConfigName=sm.describe_endpoint(
            EndpointName="serverless-ep")["EndpointConfigName"])["ProductionVariants"][0]
        assert config["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 1}
        assert "InstanceType" not in config
        buffer = io.BytesIO()
        synthetic.render("flowers", "cup_tulip", size=40, seed=0, index=0).save(buffer, "PNG")
        reply = smw.predict(boto3.client("sagemaker-runtime"), "serverless-ep",
                            buffer.getvalue(), content_type="image/png")
        assert reply["predictions"][0]["label"] in {"a", "b", "c"} and reply["k"] == 3
        # the SDK sleeps 30 s between endpoint checks; shortened, no single wait comes near it
        # (a check of every sleep rather than the wall time, which a busy machine stretches)
        assert sleeps and max(sleeps) <= 1, f"the SDK's 30 s wait was not shortened: {sleeps}"
        repacked = [k for k in smw.s3_objects(boto3.client("s3"), emulator.bucket, "")
                    if "serverless-model" in k]  # ModelBuilder's repack: under the prefix
        assert repacked and all(k.startswith("serverless/") for k in repacked), repacked
    finally:
        smw.delete_endpoint_resources(sm, "serverless-ep", ["serverless-model"])
    assert smw.leftover_resources(sm, "serverless") == {
        "endpoints": [], "endpoint_configs": [], "models": []}


# --------------------------------------------------------------------------------------------
# Issue 22: the emulator refuses what AWS refuses
# --------------------------------------------------------------------------------------------


def _serving_model(tmp_path, *, code=True, requirements=None):
    """A model folder as the endpoint unpacks it: model.pt and (with ``code``) code/."""
    from utils import checkpoint, models
    from utils import sagemaker_workflow as smw

    model_dir = tmp_path / "model"
    if code:
        smw.stage_source(model_dir / "code", purpose="inference")
        if requirements is not None:
            (model_dir / "code" / "requirements.txt").write_text(requirements)
    net = models.create_model(3, pretrained=False, seed=0)
    checkpoint.save_checkpoint(model_dir / "model.pt", net, ["a", "b", "c"], image_size=32)
    return model_dir


def _deploy(emulator, tmp_path, name, model_dir, environment=None):
    """Upload ``model_dir`` as model.tar.gz and create model, config and endpoint by API."""
    import tarfile

    import boto3

    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for path in model_dir.iterdir():
            tar.add(path, arcname=path.name)
    boto3.client("s3").upload_file(str(tmp_path / "model.tar.gz"), emulator.bucket,
                                   f"{name}/model.tar.gz")
    sm = boto3.client("sagemaker")
    sm.create_model(ModelName=name, ExecutionRoleArn=emulator.role_arn, PrimaryContainer={
        "Image": "pytorch-inference:2.6-cpu-py312",
        "ModelDataUrl": f"s3://{emulator.bucket}/{name}/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", **(environment or {})}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return sm, sm.describe_endpoint(EndpointName=name)


def _endpoint_log(name):
    import boto3

    events = boto3.client("logs").filter_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
    return "\n".join(e["message"] for e in events)


def test_a_model_without_code_fails_as_on_aws_even_with_its_code_in_s3(emulator, tmp_path,
                                                                        sourcedir):
    """The serving toolkit reads code only from the model's code/: the SDK's
    SAGEMAKER_SUBMIT_DIRECTORY in S3 does not count. Without code/ the default handler wants a
    TorchScript model.pt, the container fails its ping, and the reason is in the log."""
    model_dir = _serving_model(tmp_path, code=False)
    sm, endpoint = _deploy(emulator, tmp_path, "no-code", model_dir,
                           {"SAGEMAKER_SUBMIT_DIRECTORY": sourcedir})
    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"] == aws_emulator.PING_FAILURE
    assert "Please ensure model is saved using torchscript" in _endpoint_log("no-code")


def test_an_endpoint_whose_requirements_replace_the_images_torch_fails(emulator, tmp_path):
    model_dir = _serving_model(tmp_path, requirements="timm>=1.0\ntorch==2.8.0\n")
    _, endpoint = _deploy(emulator, tmp_path, "new-torch", model_dir)
    assert endpoint["EndpointStatus"] == "Failed"
    assert "torch==2.8.0" in endpoint["FailureReason"]
    assert "2.6.0" in endpoint["FailureReason"]


def test_the_chapters_own_model_loads_and_answers(emulator, tmp_path):
    """The same deploy path with the chapter's code/ and requirements: in service."""
    import io

    import boto3

    from offline import synthetic
    from utils import sagemaker_workflow as smw

    model_dir = _serving_model(tmp_path)
    sm, endpoint = _deploy(emulator, tmp_path, "good-model", model_dir)
    session = smw.sagemaker_session(boto3.Session(region_name=emulator.region),
                                      emulator.bucket, sagemaker_config=smw.NO_TELEMETRY)
    aws = smw.Connection("emulator", session, emulator.role_arn, emulator.bucket,
                         emulator.region)
    try:
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
        buffer = io.BytesIO()
        synthetic.render("flowers", "cup_tulip", size=40, seed=0, index=0).save(buffer, "PNG")
        reply = smw.predict(boto3.client("sagemaker-runtime"), "good-model", buffer.getvalue(),
                            content_type="image/png")
        assert reply["predictions"][0]["label"] in {"a", "b", "c"}
        assert smw.everything_left(aws, prefix="good-model", s3_prefix="good-model")[
            "log_groups"] == ["/aws/sagemaker/Endpoints/good-model"]
    finally:  # the chapter's clean-up: endpoint, config, model, S3 and the endpoint's log
        done = smw.clean_up(aws, prefix="good-model", s3_prefix="good-model")
    assert "endpoint good-model" in done["endpoints"]
    assert all(not v for v in smw.everything_left(aws, prefix="good-model",
                                                   s3_prefix="good-model").values())


def test_a_job_whose_requirements_replace_the_images_torchvision_fails(emulator, tmp_path):
    import tarfile

    import boto3

    from utils import sagemaker_workflow as smw

    source = smw.stage_source(tmp_path / "source")
    (source / "requirements.txt").write_text("timm>=1.0\ntorchvision==0.23.0\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        for path in source.iterdir():
            tar.add(path, arcname=path.name)
    s3 = boto3.client("s3")
    s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), emulator.bucket, "pins/sourcedir.tar.gz")
    s3.put_object(Bucket=emulator.bucket, Key="pins/data/a/x.txt", Body=b"x")
    sm = _create_job(emulator, f"s3://{emulator.bucket}/pins/sourcedir.tar.gz", "new-vision",
                     f"s3://{emulator.bucket}/pins/data", epochs=1)
    job = _wait_for(sm, "new-vision")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: InstallRequirementsError")
    assert "torchvision==0.23.0" in job["FailureReason"] and "0.21.0" in job["FailureReason"]


def test_checkpoints_follow_the_checkpoint_config_and_no_invented_variable(emulator, sourcedir,
                                                                          tmp_path):
    """SageMaker syncs CheckpointConfig.LocalPath (here a custom one) and sets no variable
    for it: a script told that path (a hyperparameter) has its checkpoint synced to S3; one
    that writes to the default /opt/ml/checkpoints (of the container's relocated /opt/ml)
    has nothing synced."""
    import boto3

    from offline import synthetic
    from utils import sagemaker_workflow as smw

    data = synthetic.generate("flowers", tmp_path / "flowers", n_per_class=4, size=32,
                              classes=["button_daisy", "cup_tulip"], progress=False)
    s3 = boto3.client("s3")
    for path in data.rglob("*.png"):
        s3.upload_file(str(path), emulator.bucket, f"ck/flowers/{path.relative_to(data)}")
    local = "/opt/ml/custom-checkpoints"
    for name, hps in (("told-the-path", {"checkpoint_dir": local}), ("not-told", {})):
        sm = _create_job(emulator, sourcedir, name, f"s3://{emulator.bucket}/ck/flowers",
                         checkpoint_config={"S3Uri": f"s3://{emulator.bucket}/ck/checkpoints/"
                                                     f"{name}", "LocalPath": local},
                         epochs=1, image_size=32, batch_size=4, **hps)
    jobs = {}
    for name in ("told-the-path", "not-told"):
        jobs[name] = _wait_for(sm, name)
    for job in jobs.values():
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    synced = {name: smw.s3_objects(s3, emulator.bucket, f"ck/checkpoints/{name}/")
              for name in jobs}
    assert [k.rsplit("/", 1)[-1] for k in synced["told-the-path"]] == ["checkpoint.pt"]
    assert synced["not-told"] == []
    log = "\n".join(e["message"] for e in boto3.client("logs").filter_log_events(
        logGroupName=aws_emulator.LOG_GROUP, logStreamNamePrefix="not-told")["events"])
    assert "SM_CHECKPOINT_DIR" not in log


def test_requests_are_decoded_as_the_pytorch_serving_container_does(tmp_path, monkeypatch):
    """TorchServe would turn a JSON body into a dict and a text body into str; the PyTorch
    container switches that off (decode_input_request=false), so the toolkit gets bytes and
    decodes JSON/CSV to text itself: a CSV request is the handler's 415, and a JSON request
    works. With TorchServe's own default the same JSON request would be a 500."""
    import base64
    import io
    import sys

    from offline import synthetic

    assert aws_emulator._serving_properties()["decode_input_request"] == "false"
    assert aws_emulator.model_server_body(b'{"k": 1}', "application/json") == b'{"k": 1}'
    model_dir = _serving_model(tmp_path)
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")
    buffer = io.BytesIO()
    synthetic.render("flowers", "cup_tulip", size=40, seed=0, index=0).save(buffer, "PNG")
    body = json.dumps({"image": base64.b64encode(buffer.getvalue()).decode()}).encode()
    try:
        server = aws_emulator.ModelServer(model_dir)
        status, reply, _ = server.invoke(b"petal_length,5.1", "text/csv", "application/json")
        assert status == 415 and "not supported" in json.loads(reply)["error"]
        status, reply, _ = server.invoke(body, "application/json", "application/json")
        assert status == 200 and json.loads(reply)["predictions"][0]["label"] in {"a", "b", "c"}
        monkeypatch.setenv("TS_DECODE_INPUT_REQUEST", "true")  # TorchServe's own default
        status, _, _ = server.invoke(body, "application/json", "application/json")
        assert status == 500
    finally:
        sys.modules.pop("inference", None)


def test_the_endpoint_and_the_notebook_see_an_exif_rotated_photo_the_same_way(tmp_path,
                                                                              monkeypatch):
    """A phone photo stored sideways with an EXIF orientation tag: the endpoint answers what
    the notebook's loader (utils.data.load_rgb) and the same model answer, to the digit."""
    import sys

    from photos import save_sideways
    from PIL import Image

    from offline import synthetic
    from utils import checkpoint, data

    model_dir = _serving_model(tmp_path)
    photo = save_sideways(synthetic.render("flowers", "cup_tulip", size=48, seed=0, index=3),
                          tmp_path / "phone.jpg", quality=95)
    model, classes, meta = checkpoint.load_checkpoint(model_dir / "model.pt")
    transform = checkpoint.make_transform(meta["image_size"], backbone=model.backbone)
    notebook = dict(checkpoint.predict(model, data.load_rgb(photo), transform, classes, k=3))
    sideways = dict(checkpoint.predict(model, Image.open(photo).convert("RGB"), transform,
                                       classes, k=3))
    assert max(abs(notebook[c] - sideways[c]) for c in classes) > 1e-4  # orientation matters
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")
    monkeypatch.setenv("PRECISION", "fp32")  # the notebook's precision: compare like with like
    try:
        server = aws_emulator.ModelServer(model_dir)
        status, reply, _ = server.invoke(photo.read_bytes(), "image/jpeg", "application/json")
    finally:
        sys.modules.pop("inference", None)
    assert status == 200
    served = {t["label"]: t["probability"] for t in json.loads(reply)["predictions"][0]["top_k"]}
    assert max(abs(notebook[c] - served[c]) for c in classes) < 1e-5
