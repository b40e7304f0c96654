"""What compute costs on SageMaker: one source for the rates every chapter uses.

The rates are **third-party figures** (copies of AWS's us-east-1 list prices), not verified
against AWS's pricing page from this course; re-check them before you rely on them. AWS itself
says managed spot training saves "up to 90%"; the course assumes a more typical 70%.
"""

from __future__ import annotations

import pandas as pd

#: On-demand SageMaker training/hosting rates, $/hour, us-east-1 (third-party figures).
HOURLY_RATES = {"ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.g4dn.xlarge": 0.736}
RATES_SOURCE = ("third-party copies of AWS's us-east-1 SageMaker list prices, quoted in 2026; "
                "not re-checked against AWS's pricing page")
#: Assumed saving of managed spot training (AWS: "up to 90%", a best case).
SPOT_SAVINGS = 0.7


def cost_table(seconds: dict, *, hourly_rates: dict = HOURLY_RATES,
               spot_savings: float = SPOT_SAVINGS) -> pd.DataFrame:
    """Dollars for each (option, instance type) at on-demand and managed-spot rates.

    Args:
        seconds: option name -> measured compute seconds.
        hourly_rates: instance type -> on-demand dollars per hour.
        spot_savings: fraction saved by managed spot training (e.g. 0.7 for 70 %).

    Assumes the job takes as long on the instance as the measured seconds (per-second
    billing, no start-up overhead); the rows say so by carrying ``seconds`` along.
    """
    if not 0 <= spot_savings < 1:
        raise ValueError(f"spot_savings must be in [0, 1), got {spot_savings}.")
    for instance, rate in hourly_rates.items():
        if rate < 0:
            raise ValueError(f"The hourly rate of {instance!r} must be >= 0, got {rate}.")
    rows = []
    for option, secs in seconds.items():
        if secs < 0:
            raise ValueError(f"seconds for {option!r} must be >= 0, got {secs}.")
        for instance, rate in hourly_rates.items():
            on_demand = secs / 3600 * rate
            rows.append({"option": option, "instance": instance, "seconds": secs,
                         "on_demand_usd": on_demand,
                         "spot_usd": on_demand * (1 - spot_savings)})
    return pd.DataFrame(rows)
