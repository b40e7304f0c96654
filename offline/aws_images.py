"""What AWS's PyTorch 2.6 containers already hold, and a check that a requirements file leaves
them alone.

Chapter 06 runs its training jobs and its endpoint in AWS's PyTorch 2.6 images
(``framework_version="2.6"``, ``py_version="py312"``). At start, a job pip-installs the job's
``requirements.txt`` and the serving container installs ``code/requirements.txt``, into the
image's own Python. A line that asks for another torch or torchvision than the image's would
make pip replace the image's build (the CUDA build, on a GPU instance) at every start, or fail;
a line that pins what the image already has (pandas, scikit-learn) replaces it for nothing.

:data:`IMAGES` lists what each image ships, from AWS's Dockerfiles in the public repository
``aws/deep-learning-containers`` (``pytorch/training/docker/2.6/py3/Dockerfile.cpu`` at commit
``0933cd6c``, ``pytorch/inference/docker/2.6/py3/Dockerfile.cpu`` at commit ``02af7560``): the
exact versions where the Dockerfile pins them (Python, torch, torchvision), ``None`` where it
installs whatever was current when the image was built. :func:`check_requirements` is what the
emulator runs before a job or an endpoint starts: it refuses (with pip's words where it can) a
requirement whose version range excludes the image's pinned version, or one whose installed
distribution (when the course's environment has the requested version) needs such a version or
another Python. Imports nothing of ``utils`` or ``course``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Package name -> version the image pins (``None``: present, version not fixed by AWS's build).
IMAGES: dict[str, dict[str, str | None]] = {
    "training": {
        "python": "3.12.8", "torch": "2.6.0", "torchvision": "0.21.0", "torchaudio": "2.6.0",
        "numpy": None, "scipy": None, "pillow": None, "tqdm": None, "pandas": None,
        "scikit-learn": None, "boto3": None, "pyyaml": None, "h5py": None, "psutil": None,
        "opencv-python": None, "sagemaker-training": None, "sagemaker-pytorch-training": None,
        "requests": None, "packaging": None, "ipython": None,
    },
    "inference": {
        "python": "3.12.12", "torch": "2.6.0", "torchvision": "0.21.0", "torchaudio": "2.6.0",
        "numpy": None, "scipy": None, "tqdm": None, "pandas": None, "scikit-learn": None,
        "boto3": None, "h5py": None, "opencv-python": None, "requests": None,
        "packaging": None, "ipython": None, "torchserve": None,
        "sagemaker-pytorch-inference": None, "pillow": None,  # torchvision's dependency
    },
}


class RequirementConflict(ValueError):
    """A requirements file that the image's pins refuse."""


@dataclass
class Requirement:
    """One line of a requirements file."""

    line: str
    name: str  # normalised (lower case, "-")
    specifier: str


def _normalise(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(path) -> list[Requirement]:
    """The requirements a file asks for, skipping comments, blank lines and options."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Parsed

    found = []
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            parsed = Parsed(line)
        except InvalidRequirement as err:
            raise RequirementConflict(f"{Path(path).name} line {number}: {err}") from None
        found.append(Requirement(line, _normalise(parsed.name), str(parsed.specifier)))
    return found


def check_requirements(path, image: str) -> list[Requirement]:
    """Refuse ``path`` if installing it into ``image`` ("training" | "inference") would replace
    a package the image pins, or cannot work on its Python. Returns the requirements.

    Checked: each line's version range against the image's pinned versions; its environment
    markers on the image's Python; and, when this environment has the requested distribution
    installed at a version the line allows, that distribution's own ``Requires-Python`` and its
    requirements on the pinned packages (one level: what pip would meet first).
    """
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement as Parsed
    from packaging.specifiers import SpecifierSet

    pins = IMAGES[image]
    python = pins["python"]
    marker_env = {**default_environment(), "python_version": ".".join(python.split(".")[:2]),
                  "python_full_version": python}
    problems = []
    requirements = read_requirements(path)
    for req in requirements:
        parsed = Parsed(req.line)
        if parsed.marker is not None and not parsed.marker.evaluate(marker_env):
            continue
        pinned = pins.get(req.name)
        if pinned and not parsed.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.line!r} asks for another {req.name} than the image's "
                            f"{pinned}: pip would replace the image's build")
            continue
        try:
            dist = metadata.distribution(parsed.name)
        except metadata.PackageNotFoundError:
            continue
        if not parsed.specifier.contains(dist.version, prereleases=True):
            continue  # another version than ours: its metadata is not known here
        needs_python = dist.metadata.get("Requires-Python")
        if needs_python and not SpecifierSet(needs_python).contains(python):
            problems.append(f"{req.line!r}: {dist.metadata['Name']} {dist.version} requires "
                            f"Python {needs_python}, the image has {python}")
        for dependency in dist.requires or []:
            sub = Parsed(dependency)
            if sub.marker is not None and not sub.marker.evaluate({**marker_env, "extra": ""}):
                continue
            pinned = pins.get(_normalise(sub.name))
            if pinned and not sub.specifier.contains(pinned, prereleases=True):
                problems.append(f"{req.line!r}: {dist.metadata['Name']} {dist.version} "
                                f"requires {sub}, the image has {_normalise(sub.name)} "
                                f"{pinned}")
    if problems:
        raise RequirementConflict(
            f"ERROR: Cannot install -r {Path(path).name} into the PyTorch {pins['torch'][:3]} "
            f"{image} image (Python {python}, torch {pins['torch']}, torchvision "
            f"{pins['torchvision']}) without replacing its packages: " + "; ".join(problems))
    return requirements


def lacking(path, image: str) -> list[str]:
    """The names ``path`` installs that ``image`` does not ship (what it should only add)."""
    return [r.name for r in read_requirements(path) if r.name not in IMAGES[image]]
