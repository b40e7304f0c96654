"""Chapter 06's SageMaker workflow, minus the SDK calls the chapter makes itself: one name for
the chapter to import (``from utils import sagemaker_workflow as smw``), the code in modules by
concept:

* :mod:`utils.sm_session`: the connection (emulator or real AWS), region, job logs;
* :mod:`utils.sm_jobs`: what training and tuning jobs upload and report;
* :mod:`utils.sm_endpoints`: invoking an endpoint, and the clean-up of everything a run made;
* :mod:`utils.sm_costs`: estimates before a job, bills after, real-time vs serverless;
* :mod:`utils.sm_compat`: what differs between SDK versions (workarounds, Studio preflight).

The notebook calls the SageMaker Python SDK (v3) directly for everything a learner should
see: ``ModelTrainer``, ``HyperparameterTuner`` and ``ModelBuilder``.
"""

from .sm_compat import (
    BROKEN_SDKS,
    OLDEST_SDK,
    PreflightError,
    preflight,
    ready_to_build,
    sdk_refuses,
    staging_folder,
)
from .sm_costs import (
    SERVERLESS_RATES,
    SERVERLESS_SOURCE,
    CostEstimate,
    endpoint_cost_table,
    estimate_table,
    job_cost_estimate,
    measured_bill,
    serverless_request_usd,
)
from .sm_endpoints import (
    EndpointRequestError,
    clean_up,
    clean_up_on_error,
    delete_endpoint_resources,
    delete_logs,
    delete_s3_objects,
    delete_s3_prefix,
    everything_left,
    jpeg_bytes,
    leftover_resources,
    predict,
    s3_objects,
)
from .sm_jobs import (
    Trial,
    export_image_folder,
    job_history,
    job_log,
    latest_training_job,
    load_job_model,
    running_jobs,
    stage_source,
    stop_if_interrupted,
    trials_table,
    trials_that_fit,
    tuning_trials,
)
from .sm_session import (
    JOB_LOGGER,
    MODES,
    NO_TELEMETRY,
    AwsSetupError,
    Connection,
    connect,
    quiet_sdk_logs,
    resolve_region,
    sagemaker_session,
    show_job_logs,
    use_region_for_sdk_logs,
)

__all__ = [
    "BROKEN_SDKS",
    "OLDEST_SDK",
    "PreflightError",
    "preflight",
    "ready_to_build",
    "sdk_refuses",
    "staging_folder",
    "SERVERLESS_RATES",
    "SERVERLESS_SOURCE",
    "CostEstimate",
    "endpoint_cost_table",
    "estimate_table",
    "job_cost_estimate",
    "measured_bill",
    "serverless_request_usd",
    "EndpointRequestError",
    "clean_up",
    "clean_up_on_error",
    "delete_endpoint_resources",
    "delete_logs",
    "delete_s3_objects",
    "delete_s3_prefix",
    "everything_left",
    "jpeg_bytes",
    "leftover_resources",
    "predict",
    "s3_objects",
    "Trial",
    "export_image_folder",
    "job_history",
    "job_log",
    "latest_training_job",
    "load_job_model",
    "running_jobs",
    "stage_source",
    "stop_if_interrupted",
    "trials_that_fit",
    "trials_table",
    "tuning_trials",
    "JOB_LOGGER",
    "MODES",
    "NO_TELEMETRY",
    "AwsSetupError",
    "Connection",
    "connect",
    "quiet_sdk_logs",
    "resolve_region",
    "sagemaker_session",
    "show_job_logs",
    "use_region_for_sdk_logs",
]
