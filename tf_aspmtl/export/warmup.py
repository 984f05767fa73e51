"""TF Serving warm-up requests, so that the first real request is not the slow one.

TF Serving replays ``assets.extra/tf_serving_warmup_requests`` (a TFRecord
file of ``PredictionLog`` protos) when it loads a version, before the version
is marked available; the first Session run, with its graph optimisation,
then happens before any client waits on it.
"""

from __future__ import annotations

import os
from typing import Sequence

from tf_aspmtl.export.clients import grpc_predict_request

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
WARMUP_TEXTS = ("a gripping , well written story .", "", "Terrible. Don't buy it!!!")


def write_warmup_requests(
    saved_model_dir: str | os.PathLike, model_name: str, tasks: Sequence[str] | None = None
) -> str:
    """Writes warm-up predict requests into ``saved_model_dir``; returns the file path.

    Args:
        saved_model_dir: str or path. The (staged) version folder.
        model_name: str. The model's serving name.
        tasks: sequence of str for the multi-task model (one request row per task), else None.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(os.fspath(saved_model_dir), WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if tasks is None:
        requests = [grpc_predict_request(model_name, WARMUP_TEXTS[:1]), grpc_predict_request(model_name, WARMUP_TEXTS)]
    else:
        texts = [t for t in WARMUP_TEXTS for _ in tasks]
        requests = [grpc_predict_request(model_name, texts, tasks=[k for _ in WARMUP_TEXTS for k in tasks])]
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
