"""What differs between SageMaker SDK versions, and the workarounds the chapter needs.

* :func:`sdk_refuses`: the SDK refuses a source folder under some system paths (``/root``);
  :func:`staging_folder` picks one it accepts.
* :func:`ready_to_build`: lets ``ModelBuilder.build()`` run on SDK 3.12 (Studio's) as well.
* :func:`preflight`: the Studio check of chapters 00 and 06 (SDK v3 at a working version,
  torch as the image ships it); :data:`BROKEN_SDKS` says why each refused version is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Folders the SDK refuses as a source folder (``sagemaker.core.common_utils``), if that list
#: cannot be imported; ModelBuilder raises "source_directory cannot access sensitive system
#: paths" for anything under them.
REFUSED_FALLBACK = ("~/.aws", "~/.ssh", "~/.kube", "~/.docker", "~/.config", "~/.credentials",
                    "/etc", "/root", "/var/lib", "/opt/ml/metadata")


def sdk_refuses(path) -> bool:
    """Whether the SageMaker SDK refuses ``path`` as a source folder (as ModelBuilder checks:
    the resolved path starts with one of ``sagemaker.core.common_utils._SENSITIVE_SYSTEM_PATHS``).
    """
    try:
        from sagemaker.core.common_utils import _SENSITIVE_SYSTEM_PATHS as refused
    except ImportError:  # pragma: no cover - another SDK version
        refused = [os.path.abspath(os.path.expanduser(p)) for p in REFUSED_FALLBACK]
    resolved = os.path.abspath(os.path.realpath(path))
    return any(resolved != "/" and resolved.startswith(prefix) for prefix in refused)


def staging_folder(dest: Path) -> Path:
    """``dest``, or a folder of the same name under a temporary directory the SDK accepts."""
    if not sdk_refuses(dest):
        return dest
    import hashlib

    tag = hashlib.sha1(str(dest.resolve()).encode()).hexdigest()[:10]
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        candidate = Path(base) / f"course-staging-{os.getuid()}-{tag}" / dest.name
        if not sdk_refuses(candidate) and os.access(base, os.W_OK):
            return candidate
    from .sm_session import AwsSetupError

    raise AwsSetupError(
        f"The SageMaker SDK refuses source folders under {dest} (e.g. /root) and no temporary "
        "directory it accepts is writable. Set TMPDIR to a writable folder outside /root.")


def ready_to_build(builder):
    """Let ``builder.build()`` run on SageMaker SDK 3.12 as well (a compatibility shim).

    SDK 3.12.0, the one SageMaker Distribution 4.4.1 ships in Studio, repacks the model inside
    ``builder.model_path`` without creating that folder, and hands the default
    ``dependencies={"auto": True}`` to the repacker as if it were a list of files; both fail.
    Later releases create the folder and ignore ``dependencies`` there (it is deprecated). So:
    create the folder, and clear a ``dependencies`` that only says ``auto``. Nothing else changes
    on any version. Returns ``builder``.
    """
    model_path = getattr(builder, "model_path", None)
    if model_path and "://" not in str(model_path):
        Path(model_path).mkdir(parents=True, exist_ok=True)
    dependencies = getattr(builder, "dependencies", None)
    if isinstance(dependencies, dict) and set(dependencies) <= {"auto"}:
        builder.dependencies = {}
    return builder


# --------------------------------------------------------------------------------------------
# The Studio preflight (chapters 00 and 06)
# --------------------------------------------------------------------------------------------

#: The oldest SageMaker Python SDK v3 the course runs on (``.ci/compat`` checks it).
OLDEST_SDK = "3.7.1"
#: SDK releases the course refuses, with the reason (first, last version of each range).
BROKEN_SDKS = {
    ("3.15.0", "3.17.999"): "its ModelBuilder drops source_code, so the model ships without "
                            "code/ and the endpoint cannot load inference.py (fixed in 3.18)",
}
#: Where SageMaker Distribution records the packages its image installed with conda.
CONDA_META = "/opt/conda/conda-meta"


class PreflightError(RuntimeError):
    """The environment cannot run the course's SageMaker chapter as installed."""


def image_torch(conda_meta=CONDA_META) -> str | None:
    """The torch version the image itself installed (SageMaker Distribution records it in
    ``conda-meta/pytorch-<version>-<build>.json``); ``None`` outside such an image."""
    found = sorted(Path(conda_meta).glob("pytorch-[0-9]*.json")) if Path(
        conda_meta).is_dir() else []
    return found[-1].name.split("-")[1] if found else None


def preflight(*, sdk: str | None = None, torch: str | None = None,
              image_torch_version: str | None = None, conda_meta=CONDA_META) -> dict:
    """Check the SageMaker SDK and torch the kernel would use; raise :class:`PreflightError`
    listing every problem, or return the versions found.

    Refused: SDK v2 (SageMaker Distribution 3.x and older ship it; the course uses v3), an SDK
    older than :data:`OLDEST_SDK`, the releases in :data:`BROKEN_SDKS` (with the reason), and
    a torch whose major.minor differs from the one the image installed (a ``pip install`` that
    replaced the image's build). The arguments fake the versions (tests); by default they are
    read from the installed packages and the image's conda records.
    """
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    if sdk is None:
        try:
            sdk = version("sagemaker")
        except PackageNotFoundError:
            sdk = None
    if torch is None:
        torch = version("torch")
    if image_torch_version is None:
        image_torch_version = image_torch(conda_meta)
    problems = []
    if sdk is None:
        problems.append("the SageMaker Python SDK is not installed: pip install -r "
                        "requirements-studio.txt (Studio) or -r requirements.txt")
    elif Version(sdk).major < 3:
        problems.append(f"SageMaker Python SDK {sdk} is v2; the course needs v3 (>= "
                        f"{OLDEST_SDK}). SageMaker Distribution 3.x and older images ship v2: "
                        "choose a SageMaker Distribution 4.x image for the space (installing "
                        "v3 over v2 would replace the image's SDK)")
    elif Version(sdk) < Version(OLDEST_SDK):
        problems.append(f"SageMaker Python SDK {sdk} is older than {OLDEST_SDK}, the oldest "
                        "the course runs on: pip install -r requirements-studio.txt")
    else:
        for (first, last), reason in BROKEN_SDKS.items():
            if Version(first) <= Version(sdk) <= Version(last):
                problems.append(f"SageMaker Python SDK {sdk}: {reason}. Install another "
                                "release: pip install -r requirements-studio.txt")
    base = Version(torch.split("+")[0])
    if image_torch_version is not None:
        image = Version(image_torch_version.split("+")[0])
        if (base.major, base.minor) != (image.major, image.minor):
            problems.append(f"torch {torch} is not the image's torch {image_torch_version}: "
                            "an install replaced it (the image's build, CUDA included). "
                            "Reinstall with the README's Studio command, which keeps it")
    if problems:
        raise PreflightError("This environment cannot run the course as installed:\n- "
                             + "\n- ".join(problems))
    return {"sagemaker": sdk, "torch": torch, "image_torch": image_torch_version}
