"""Requests to, and responses from, TF Serving for the exported signatures: REST and gRPC.

REST (port 8501), one task's model::

    POST /v1/models/books:predict
    {"signature_name": "serving_default", "instances": ["a gripping story", "dull"]}

    {"predictions": [{"probabilities": [0.08, 0.92], "label_id": 1, "label": "positive"},
                     {"probabilities": [0.81, 0.19], "label_id": 0, "label": "negative"}]}

The multi-task model takes one object per row:
``{"instances": [{"text": "a gripping story", "task": "books"}]}``. Texts
that are not valid UTF-8 cannot be JSON strings; they are sent as
``{"b64": "<base64>"}``, which TF Serving decodes to the raw bytes.

gRPC (port 8500): :func:`grpc_predict_request` builds a
``tensorflow_serving.apis.predict_pb2.PredictRequest`` (package
``tensorflow-serving-api``) whose ``text`` (and ``task``) inputs are DT_STRING
tensors of shape [batch], and :func:`predict_grpc` sends it.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping, Sequence

import numpy as np

from tf_aspmtl import serving

REST_PORT = 8501
GRPC_PORT = 8500
SIGNATURE = serving.SIGNATURE_NAME


def _as_bytes(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode("utf-8")
    raise TypeError(f"Texts must be str or bytes; got {type(text).__name__}: {text!r}")


def _as_list(values: Sequence[Any], field: str) -> list[Any]:
    """``values`` as a list of rows; a bare str or bytes is one text, not a sequence of rows: rejected."""
    if isinstance(values, (str, bytes, bytearray)):
        raise ValueError(f"'{field}' must be a list of rows (e.g. [{values!r}]), not a single "
                         f"{type(values).__name__}: {values!r}")
    return list(values)


def _task_name(task: str | bytes) -> str:
    """A task name as the JSON string TF Serving compares with the model's names (bytes decoded as UTF-8)."""
    if isinstance(task, str):
        return task
    if not isinstance(task, bytes):
        raise TypeError(f"Task names must be str or bytes; got {type(task).__name__}: {task!r}")
    try:
        return task.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"Task name {task!r} is not valid UTF-8 (task names are the model's str names)") from error


def _json_string(text: str | bytes) -> str | dict[str, str]:
    """A JSON value TF Serving decodes to exactly these bytes."""
    raw = _as_bytes(text)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(raw).decode("ascii")}


def rest_url(host: str, model_name: str, version: int | None = None, port: int = REST_PORT) -> str:
    """``http://host:port/v1/models/<name>[/versions/<n>]:predict``."""
    version_part = "" if version is None else f"/versions/{int(version)}"
    return f"http://{host}:{port}/v1/models/{model_name}{version_part}:predict"


def rest_request_body(
    texts: Sequence[str | bytes], tasks: Sequence[str | bytes] | None = None, signature_name: str = SIGNATURE
) -> dict[str, Any]:
    """The JSON body (as a dict) of a REST predict request, in TF Serving's row format.

    Args:
        texts: sequence of str or bytes. Raw texts, one per row (a list even for one text).
        tasks: sequence of str or bytes, for the multi-task model only. Each row's task name.
        signature_name: str. The signature to call.

    Raises:
        ValueError: ``texts`` or ``tasks`` is a single str or bytes rather than a list, or their lengths differ.
    """
    texts = _as_list(texts, "texts")
    if tasks is None:
        instances: list[Any] = [_json_string(t) for t in texts]
    else:
        tasks = _as_list(tasks, "tasks")
        if len(tasks) != len(texts):
            raise ValueError(f"Got {len(texts)} texts but {len(tasks)} task names")
        instances = [{serving.TEXT_INPUT: _json_string(t), serving.TASK_INPUT: _task_name(k)}
                     for t, k in zip(texts, tasks)]
    return {"signature_name": signature_name, "instances": instances}


def parse_rest_response(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-row predictions of a REST predict response (row format)."""
    if "error" in body:
        raise RuntimeError(f"TF Serving returned an error: {body['error']}")
    if "predictions" not in body:
        raise ValueError(f"Not a predict response (no 'predictions'): keys {sorted(body)}")
    return list(body["predictions"])


def predict_rest(
    host: str, model_name: str, texts: Sequence[str | bytes], tasks: Sequence[str | bytes] | None = None,
    port: int = REST_PORT, timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Sends a REST predict request with the standard library and returns the per-row predictions."""
    import json
    import urllib.request

    request = urllib.request.Request(
        rest_url(host, model_name, port=port),
        data=json.dumps(rest_request_body(texts, tasks)).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return parse_rest_response(json.loads(response.read()))


def grpc_predict_request(
    model_name: str,
    texts: Sequence[str | bytes],
    tasks: Sequence[str | bytes] | None = None,
    signature_name: str = SIGNATURE,
    version: int | None = None,
):
    """A ``PredictRequest`` for an exported model.

    Args:
        model_name: str. The name TF Serving serves the model under.
        texts: sequence of str or bytes. Raw texts, one per row (a list even for one text; any bytes: gRPC has
            no UTF-8 rule).
        tasks: sequence of str or bytes, for the multi-task model only. Each row's task name.
        signature_name: str. The signature to call.
        version: int or None. A specific version; None means the latest.

    Raises:
        ValueError: ``texts`` or ``tasks`` is a single str or bytes rather than a list, or their lengths differ.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    texts = _as_list(texts, "texts")
    tasks = None if tasks is None else _as_list(tasks, "tasks")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    values = np.array([_as_bytes(t) for t in texts], dtype=object).reshape([len(texts)])
    request.inputs[serving.TEXT_INPUT].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string))
    if tasks is not None:
        if len(tasks) != len(texts):
            raise ValueError(f"Got {len(texts)} texts but {len(tasks)} task names")
        names = np.array([_as_bytes(t) for t in tasks], dtype=object).reshape([len(tasks)])
        request.inputs[serving.TASK_INPUT].CopyFrom(tf.make_tensor_proto(names, dtype=tf.string))
    return request


def parse_predict_response(response) -> dict[str, np.ndarray]:
    """The outputs of a ``PredictResponse`` as numpy arrays, by output name."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict_grpc(target: str, request, timeout: float = 10.0) -> dict[str, np.ndarray]:
    """Sends ``request`` to ``target`` (``host:8500``) and returns the outputs as numpy arrays."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return parse_predict_response(stub.Predict(request, timeout=timeout))
