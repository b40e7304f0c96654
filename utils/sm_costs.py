"""What chapter 06's jobs and endpoints cost: estimates before, bills after.

* :func:`job_cost_estimate` (a :class:`CostEstimate`) and :func:`estimate_table`: the
  worst-case bill of a training or tuning job, shown before launching; :func:`measured_bill`
  afterwards. Rates default to :data:`utils.costs.HOURLY_RATES` and
  :data:`utils.costs.SPOT_SAVINGS`.
* :func:`serverless_request_usd` and :func:`endpoint_cost_table`: a real-time endpoint (per
  hour) against a serverless one (per request).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from . import costs

#: SageMaker Serverless Inference rates, us-east-1: compute per GB of configured memory per
#: second of processing (billed per millisecond), and data processed in and out per GB.
SERVERLESS_RATES = {"usd_per_gb_second": 0.00002, "usd_per_gb_data": 0.016}


SERVERLESS_SOURCE = (
    "third-party figures: compute $0.00002 per GB-second from a public AWS price cache dated "
    "2026-03-07 (us-east-1, copied from AWS's Price List API); data $0.016 per GB in and out "
    "from a December 2023 SageMaker bill (eu-west-1) published in the aws-samples repository "
    "sagemaker-ssh-helper. Not re-checked against AWS's pricing page")


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
