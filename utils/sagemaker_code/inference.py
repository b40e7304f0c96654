"""SageMaker inference handler for the flower-species model written by ``train.py``.

One endpoint, two questions: "is there a flower?" (the organisation's detector) and "which
species?" (the species model trained from it). When the species model kept the detector's
feature layers frozen, both heads read one body (``utils.models.TwoHeadedModel``, chapter 05):
one pass through the network answers both. When its top stages were fine-tuned, the detector
keeps its own body (``detector.pt`` next to ``model.pt``) so its answers do not change.

The PyTorch serving container (``sagemaker-pytorch-inference``) imports this module and calls
``model_fn`` once, then ``input_fn`` -> ``predict_fn`` -> ``output_fn`` for every request.

Requests
    * ``image/jpeg`` or ``image/png`` (also ``image/jpg``, ``application/x-image``): the raw
      bytes of one photo. The top ``k = 3`` classes are returned.
    * ``application/json``: ``{"image": "<base64 JPEG/PNG>", "k": 5}`` for one photo, or
      ``{"images": ["<base64>", ...], "k": 5}`` for several (at most ``MAX_IMAGES``), or a
      plain list ``["<base64>", ...]``. ``k`` is optional (default 3); a ``data:image/...;base64,``
      prefix is allowed.

Response (``application/json``), one entry per image, best class first::

    {"predictions": [{"label": "cup_tulip", "probability": 0.91,
                      "top_k": [{"label": "cup_tulip", "probability": 0.91}, ...],
                      "flower_probability": 0.98, "is_flower": true, "answer": "cup_tulip"}],
     "k": 3, "classes": 6}

``label`` and ``top_k`` are the species head's answer whatever the photo shows;
``flower_probability`` is the detector's, and ``answer`` is the species when the detector says
there is a flower (probability >= 0.5) and ``"no flower"`` otherwise. A model trained without
a detector answers the species only (no ``flower_probability``, ``is_flower``, ``answer``).

Errors
    A bad request raises an error the toolkit turns into an HTTP status: 415 for an unsupported
    content type, 400 for an undecodable image, invalid JSON or base64, or a bad ``k``, 406 for an
    unsupported ``Accept``. Under the toolkit (which passes its request context to the handler
    functions) the reply is then a short JSON body ``{"error": "...", "status": 415}`` with that
    status, instead of the toolkit's default body (the message followed by a Python traceback).
    Called directly, the functions raise :class:`RequestError` (a subclass of the toolkit's
    ``BaseInferenceToolkitError`` when ``sagemaker-inference`` is installed).

Dependencies: torch, torchvision, pillow and numpy (in the PyTorch serving
container), timm (the inference ``requirements.txt``) and four files of the course package
``utils`` (``__init__.py``, ``models.py``, ``checkpoint.py``, ``photos.py``, copied next to this
file in the model's ``code/`` folder, with ``precision.py``). ``model_fn`` loads the model with
``utils.checkpoint.load_checkpoint``, opens each photo with ``utils.photos.load_rgb`` (EXIF
orientation applied, as in the notebooks) and preprocesses with
``utils.checkpoint.make_transform``: the same code that training and the chapters use, so
serving cannot drift from training. No pretrained weights are needed: they are all in
``model.pt`` (and ``detector.pt``).

Precision: by default the forward pass runs in fp32, so the endpoint answers exactly what the
checkpoint you evaluated answers (chapter 06 compares the two). The model's ``PRECISION``
environment variable opts in to reduced precision: ``auto`` (bf16 autocast where the instance
computes bf16 natively, a GPU with bf16 or a CPU with AMX or AVX512-BF16: ``utils.precision``'s
rule for forward passes; else fp32), ``bf16``, or ``fp16`` on a GPU. The reply does not change
shape either way.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if HERE.parent.name == "utils" and (HERE.parent / "models.py").is_file():  # in the repository
    if str(HERE.parent.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent.parent))

import torch  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

JSON = "application/json"
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "application/x-image")
DEFAULT_K = 3
MAX_IMAGES = 64
MODEL_FILE = "model.pt"
FLOWER = "flower"  # the detector's output that means "there is a flower"
NO_FLOWER = "no flower"  # the answer when the detector says there is none

try:  # the serving toolkit's error types: it maps BaseInferenceToolkitError to an HTTP status
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
    from sagemaker_inference.errors import UnsupportedFormatError as _UnsupportedFormatError
except ImportError:  # pragma: no cover - outside the serving container / test environment

    class _ToolkitError(Exception):
        def __init__(self, status_code, message, phrase):
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super().__init__(status_code, message, phrase)

    class _UnsupportedFormatError(Exception):
        pass


class RequestError(_ToolkitError):
    """A request the model cannot serve; ``status_code`` is the HTTP status to answer with."""

    status = 400
    reason = "Bad Request"

    def __init__(self, message: str):
        # Set the toolkit's attributes directly: with two toolkit bases, their __init__
        # signatures differ.
        self.status_code, self.message, self.phrase = self.status, message, self.reason
        Exception.__init__(self, self.status, message, self.reason)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


class BadRequestError(RequestError, ValueError):
    """400: the body cannot be decoded (not an image, bad JSON or base64, bad ``k``)."""


class UnsupportedContentTypeError(RequestError, _UnsupportedFormatError):
    """415: a Content-Type the handler does not accept."""

    status = 415
    reason = "Unsupported Media Type"


class NotAcceptableError(RequestError):
    """406: an ``Accept`` type the handler cannot produce."""

    status = 406
    reason = "Not Acceptable"


class _ErrorReply:
    """A request error carried through predict_fn to output_fn (only under the toolkit)."""

    def __init__(self, error: RequestError):
        self.error = error


# --------------------------------------------------------------------------------------------
# The four handler functions
# --------------------------------------------------------------------------------------------


def model_fn(model_dir):
    """Load ``model_dir/model.pt`` (written by ``train.py``): model, classes and transform."""
    # the one copy of the preprocessing and checkpoint loader (training and chapters use it)
    from utils.checkpoint import load_checkpoint, make_transform

    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No {MODEL_FILE} in {str(model_dir)!r}: was the model trained "
                                "with train.py?")
    from utils.precision import resolve_precision

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(os.environ.get("PRECISION", "fp32"), device=device)
    model, classes, meta = load_checkpoint(path, device)
    image_size = int(meta.get("image_size", 224))
    served = {"model": model, "classes": classes, "device": device, "image_size": image_size,
              "precision": precision,
              "transform": make_transform(image_size, backbone=model.backbone)}
    if meta.get("detector"):
        served["model"], served["flower_index"] = _with_detector(model, meta["detector"],
                                                                 Path(model_dir), device)
    return served


def _with_detector(species, detector: dict, model_dir: Path, device):
    """``(network returning (detector scores, species scores), index of 'flower')``."""
    from torch import nn

    from utils.checkpoint import load_checkpoint
    from utils.models import TwoHeadedModel

    if detector.get("shared_body"):  # frozen feature layers: one body, two heads (chapter 05)
        weight = detector["head"]["weight"]
        head = nn.Linear(weight.shape[1], weight.shape[0])
        head.load_state_dict(detector["head"])
        network = TwoHeadedModel(species.body, head, species.head)
    else:  # fine-tuned feature layers: the detector keeps its own body
        own, _, _ = load_checkpoint(model_dir / detector["file"], device)
        network = _TwoNetworks(own, species)
    return network.eval().to(device), list(detector["classes"]).index(FLOWER)


class _TwoNetworks(torch.nn.Module):
    """The detector and the species model side by side: ``(detector scores, species scores)``."""

    def __init__(self, detector, species):
        super().__init__()
        self.detector, self.species = detector, species

    def forward(self, x):
        return self.detector(x), self.species(x)


def input_fn(request_body, content_type, context=None):
    """Decode a request into ``{"images": [PIL images], "k": int}``."""
    try:
        return _decode_request(request_body, content_type)
    except RequestError as err:
        if context is None:
            raise
        return _ErrorReply(err)


def predict_fn(input_data, model, context=None):
    """Top-k species with probabilities for each image, and the detector's answer if any."""
    from utils.precision import autocast

    if isinstance(input_data, _ErrorReply):
        return input_data
    classes, device = model["classes"], model["device"]
    k = min(input_data["k"], len(classes))
    batch = torch.stack([model["transform"](img) for img in input_data["images"]]).to(device)
    flower = model.get("flower_index")
    with torch.inference_mode(), autocast(model.get("precision", "fp32"), device):
        scores = model["model"](batch)
        if flower is not None:
            detector_scores, scores = scores
            p_flower = detector_scores.float().softmax(1)[:, flower].cpu().tolist()
        probs = scores.float().softmax(1).cpu()
    top = probs.topk(k, dim=1)
    predictions = []
    for i, (values, indices) in enumerate(zip(top.values.tolist(), top.indices.tolist(),
                                              strict=True)):
        ranked = [{"label": classes[j], "probability": round(p, 6)}
                  for p, j in zip(values, indices, strict=True)]
        prediction = {**ranked[0], "top_k": ranked}
        if flower is not None:
            is_flower = p_flower[i] >= 0.5
            prediction.update(flower_probability=round(p_flower[i], 6), is_flower=is_flower,
                              answer=ranked[0]["label"] if is_flower else NO_FLOWER)
        predictions.append(prediction)
    return {"predictions": predictions, "k": k, "classes": len(classes)}


def output_fn(prediction, accept, context=None):
    """Serialise to JSON; returns ``(body, content type)``."""
    if isinstance(prediction, _ErrorReply):
        return _error_response(prediction.error, context)
    if not _accepts_json(accept):
        error = NotAcceptableError(f"Cannot answer with Accept {accept!r}: this endpoint "
                                   f"returns {JSON}.")
        if context is None:
            raise error
        return _error_response(error, context)
    return json.dumps(prediction), JSON


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _media_type(content_type) -> str:
    return str(content_type or "").split(";")[0].strip().lower()


def _accepts_json(accept) -> bool:
    if not accept:
        return True
    types = [_media_type(part) for part in str(accept).split(",")]
    return any(t in (JSON, "*/*", "application/*") for t in types)


def _decode_request(body, content_type) -> dict:
    media = _media_type(content_type)
    if media in IMAGE_TYPES:
        if isinstance(body, str):
            body = body.encode("latin1")
        return {"images": [_open_image(bytes(body), f"the {media} body")], "k": DEFAULT_K}
    if media == JSON:
        return _decode_json(body)
    accepted = ", ".join((*IMAGE_TYPES[:3], JSON))
    raise UnsupportedContentTypeError(
        f"Content type {content_type or '(none)'!r} is not supported. Send a photo as "
        f"{accepted}."
    )


def _decode_json(body) -> dict:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadRequestError(f"The JSON body is not UTF-8 text ({err}).") from None
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as err:
        raise BadRequestError(f"The body is not valid JSON ({err}).") from None
    k = DEFAULT_K
    if isinstance(payload, dict):
        k = payload.get("k", DEFAULT_K)
        if "image" in payload:
            items = [payload["image"]]
        elif "images" in payload and isinstance(payload["images"], list):
            items = payload["images"]
        else:
            raise BadRequestError('JSON must look like {"image": "<base64>", "k": 3} or '
                                  '{"images": ["<base64>", ...]}.')
    elif isinstance(payload, list):
        items = payload
    else:
        raise BadRequestError('JSON must look like {"image": "<base64>", "k": 3}.')
    if not items:
        raise BadRequestError("The request holds no image.")
    if len(items) > MAX_IMAGES:
        raise BadRequestError(f"At most {MAX_IMAGES} images per request, got {len(items)}.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadRequestError(f"k must be a whole number >= 1, got {k!r}.")
    images = [_open_image(_b64decode(item, i), f"image {i}") for i, item in enumerate(items)]
    return {"images": images, "k": k}


def _b64decode(item, index: int) -> bytes:
    if isinstance(item, dict) and "image" in item:
        item = item["image"]
    if not isinstance(item, str):
        raise BadRequestError(f"image {index} must be a base64 string, got "
                              f"{type(item).__name__}.")
    if item.startswith("data:") and "," in item:
        item = item.split(",", 1)[1]
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequestError(f"image {index} is not valid base64 ({err}).") from None


def _open_image(data: bytes, what: str) -> Image.Image:
    """The photo, upright and RGB, exactly as the notebooks load a file: ``utils.photos.load_rgb``
    (EXIF orientation applied, any colour mode converted)."""
    from utils.photos import DataError, load_rgb

    if not data:
        raise BadRequestError(f"The request body is empty: expected a photo ({what}).")
    try:
        return load_rgb(io.BytesIO(data))
    except DataError as err:
        cause = err.__cause__
        reason = ("unrecognised or corrupt image data" if isinstance(cause, UnidentifiedImageError)
                  else str(cause or err) or type(err).__name__)
    raise BadRequestError(f"Could not decode {what} as an image ({reason}). Send a JPEG or "
                          "PNG photo.")


def _error_response(error: RequestError, context):
    if context is not None:
        context.set_response_status(code=error.status_code, phrase=error.phrase)
    body = {"error": error.message, "status": error.status_code}
    return json.dumps(body), JSON
