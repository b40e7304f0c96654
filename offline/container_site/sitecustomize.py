"""Loaded at start-up by every emulated training job (the emulator puts this folder first on
``PYTHONPATH``): the course's own packages are not in AWS's training image.

The job runs in the course's Python, where ``utils``, ``offline`` and ``course`` are importable
from the repository (an editable install). In a SageMaker container only the job's code is
there, so an import that would reach one of them in the repository fails here as it fails on
AWS (``ModuleNotFoundError``). The copies the job ships in its own code folder import normally.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path

_REPO = os.environ.get("COURSE_EMULATOR_REPOSITORY")
_PACKAGES = ("utils", "offline", "course", "benchmarks")


class _NotInTheImage(importlib.abc.MetaPathFinder):
    """Refuse a course package that would come from the repository instead of the job's code."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in _PACKAGES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            where = spec.origin or next(iter(spec.submodule_search_locations or []), "")
            if where and Path(where).resolve().is_relative_to(
                    Path(_REPO, name.split(".")[0])):
                raise ModuleNotFoundError(
                    f"No module named {name!r} (the course's repository is not in the "
                    "training image: ship it in the job's code folder)", name=name)
            return None
        return None


if _REPO:
    sys.meta_path.insert(0, _NotInTheImage())
