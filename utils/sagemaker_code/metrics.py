"""The metric lines that ``train.py`` prints, and the regexes SageMaker uses to read them.

SageMaker scrapes a training job's log (CloudWatch) with one regex per metric; the first capture
group is the value. ``train.py`` prints one line per epoch and one final line, each a list of
``name=value`` pairs, for example::

    epoch=3 train_loss=0.412300 train_acc=0.850000 val_loss=0.398100 val_acc=0.875000 lr=0.0001
    final epochs=3 best_val_acc=0.875000 test_loss=0.401200 test_acc=0.833333

Pass :data:`METRIC_DEFINITIONS` as ``metric_definitions`` to a ``ModelTrainer`` (SDK v3) or a
``HyperparameterTuner``, and use ``"val_acc"`` as the tuner's objective metric (maximize).

This module only needs the standard library, so a notebook can import it without torch.
"""

from __future__ import annotations

import re

# A number as Python prints it: 0.875, 3, -1.5e-05, nan, inf.
NUMBER = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf)"

#: The metric names ``train.py`` reports, in the order it prints them.
METRIC_NAMES = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                "best_val_acc", "test_loss", "test_acc")


def metric_regex(name: str) -> str:
    """The regex that captures the value of ``name=...`` (and not of ``best_name=...``)."""
    # \b stops "val_acc" from matching inside "best_val_acc": "_" is a word character.
    return rf"\b{re.escape(name)}=({NUMBER})"


#: For ``metric_definitions=`` of ModelTrainer / HyperparameterTuner.
METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": name, "Regex": metric_regex(name)} for name in METRIC_NAMES
]

#: The tuning objective: validation accuracy, to maximize.
OBJECTIVE_METRIC = "val_acc"


def format_metrics(prefix: str = "", **values) -> str:
    """One log line ``[prefix ]name=value ...``; floats with 6 decimals, never thousands marks."""
    parts = [prefix] if prefix else []
    for name, value in values.items():
        if isinstance(value, float):
            text = f"{value:.6f}" if abs(value) >= 1e-4 or value == 0 else f"{value:.6g}"
        else:
            text = str(value)
        parts.append(f"{name}={text}")
    return " ".join(parts)


def parse_metrics(log: str) -> dict[str, list[float]]:
    """Apply :data:`METRIC_DEFINITIONS` to a log, like SageMaker does: every match, in order."""
    found: dict[str, list[float]] = {}
    for definition in METRIC_DEFINITIONS:
        values = [float(v) for v in re.findall(definition["Regex"], log)]
        if values:
            found[definition["Name"]] = values
    return found
