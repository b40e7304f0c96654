"""Random search over hyperparameters, with a fixed budget of trials.

Used to give "retrain from scratch" its best shot (chapter 05) and by the offline tuning jobs.
Selection is always on validation accuracy, never on the test split.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import pandas as pd


@dataclass
class SearchResult:
    """What :func:`random_search` found: every trial, the best one, and the total wall time."""

    trials: list[dict]
    best: dict
    seconds: float

    def table(self) -> pd.DataFrame:
        """One row per trial: its parameters, what the objective reported, and its seconds."""
        rows = [{"trial": t["trial"], **t["params"],
                 **{k: v for k, v in t.items() if k not in ("trial", "params", "seconds")},
                 "seconds": t["seconds"]} for t in self.trials]
        return pd.DataFrame(rows).set_index("trial")


def sample_hyperparameters(space: dict, rng: random.Random) -> dict:
    """Draw one configuration from ``space``.

    Each entry is ``("log", low, high)`` (log-uniform), ``("uniform", low, high)`` or
    ``("choice", [values])``.
    """
    params = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "log":
            params[name] = math.exp(rng.uniform(math.log(spec[1]), math.log(spec[2])))
        elif kind == "uniform":
            params[name] = rng.uniform(spec[1], spec[2])
        elif kind == "choice":
            params[name] = rng.choice(list(spec[1]))
        else:
            raise ValueError(f"Unknown search-space kind {kind!r} for {name!r}: use 'log', "
                             "'uniform' or 'choice'.")
    return params


def random_search(objective, space: dict, *, trials: int, seed: int = 0) -> SearchResult:
    """Random search with a fixed budget of ``trials`` calls to ``objective(params, trial)``.

    ``objective`` returns a dict with at least ``val_acc`` (selection is on validation only);
    it may include a ``model``, which is kept for the best trial only. Each trial records its
    ``params``, ``val_acc`` and ``seconds``.
    """
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}.")
    rng = random.Random(seed)
    results, best, start = [], None, time.perf_counter()
    for trial in range(trials):
        params = sample_hyperparameters(space, rng)
        t0 = time.perf_counter()
        out = dict(objective(params, trial))
        record = {"trial": trial, "params": params, "seconds": time.perf_counter() - t0,
                  **{k: v for k, v in out.items() if k != "model"}}
        results.append(record)
        if best is None or record["val_acc"] > best["val_acc"]:
            best = {**record, "model": out.get("model")}
    return SearchResult(results, best, time.perf_counter() - start)
