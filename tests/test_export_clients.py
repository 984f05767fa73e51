"""REST and gRPC requests match the exported signatures; a server's answer parses back."""

import base64
import json

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from tf_aspmtl.export import clients, warmup
from tests.test_export_fixtures import EXPORTED_TASKS, load_signature

pytest_plugins = ["tests.test_export_fixtures"]

TEXTS = ["a gripping , well written story .", "", b"broken \xff\xfe bytes", "\u05d6\u05d4 \U0001F600"]


def signature_def(folder):
    """The `serving_default` SignatureDef, read from saved_model.pb as TF Serving reads it."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((folder / "saved_model.pb").read_bytes())
    (meta_graph,) = saved_model.meta_graphs
    return meta_graph.signature_def["serving_default"]


def serve_like_tf_serving(base, request):
    """Answers a PredictRequest the way the model server does: inputs by name, outputs as TensorProtos."""
    signature = load_signature(base, request.model_spec.name)
    outputs = signature(**{name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()})
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def check_request_against_signature(request, folder):
    sig = signature_def(folder)
    assert sorted(request.inputs) == sorted(sig.inputs)
    for name, tensor in request.inputs.items():
        assert tensor.dtype == sig.inputs[name].dtype == tf.string.as_datatype_enum
        signature_dims = [d.size for d in sig.inputs[name].tensor_shape.dim]
        request_dims = [d.size for d in tensor.tensor_shape.dim]
        assert len(request_dims) == len(signature_dims) == 1 and signature_dims == [-1]
    assert sorted(sig.outputs) == ["label", "label_id", "probabilities"]
    assert request.model_spec.signature_name in {"serving_default"}


def test_grpc_requests_match_each_signature_and_responses_parse(export_base):
    for name in EXPORTED_TASKS:
        request = clients.grpc_predict_request(name, TEXTS)
        check_request_against_signature(request, export_base / name / "1")
        outputs = clients.parse_predict_response(serve_like_tf_serving(export_base, request))
        assert outputs["probabilities"].shape == (len(TEXTS), 2)
        assert outputs["label_id"].dtype == np.int64 and set(outputs["label"]) <= {b"negative", b"positive"}
        np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0, atol=1e-5)
    tasks = [EXPORTED_TASKS[i % 2] for i in range(len(TEXTS))]
    request = clients.grpc_predict_request("multitask", TEXTS, tasks=tasks, version=1)
    assert request.model_spec.version.value == 1
    check_request_against_signature(request, export_base / "multitask" / "1")
    outputs = clients.parse_predict_response(serve_like_tf_serving(export_base, request))
    for row, (text, task) in enumerate(zip(TEXTS, tasks)):
        alone = serve_like_tf_serving(export_base, clients.grpc_predict_request(task, [text]))
        alone = clients.parse_predict_response(alone)
        np.testing.assert_allclose(outputs["probabilities"][row], alone["probabilities"][0], atol=1e-6)


def test_warmup_requests_match_the_signature(export_base):
    for name in EXPORTED_TASKS + ["multitask"]:
        folder = export_base / name / "1"
        records = list(tf.data.TFRecordDataset(str(folder / warmup.WARMUP_FILE)).as_numpy_iterator())
        assert records
        for record in records:
            log = prediction_log_pb2.PredictionLog.FromString(record)
            assert log.predict_log.request.model_spec.name == name
            check_request_against_signature(log.predict_log.request, folder)
            serve_like_tf_serving(export_base, log.predict_log.request)


def _decode_rest_value(value):
    """TF Serving's JSON decoding of a DT_STRING value: UTF-8 text, or {"b64": ...} for raw bytes."""
    return base64.b64decode(value["b64"]) if isinstance(value, dict) else value.encode("utf-8")


def test_rest_body_is_json_tf_serving_decodes_to_the_same_texts(export_base):
    body = json.loads(json.dumps(clients.rest_request_body(TEXTS)))  # must survive JSON
    assert body["signature_name"] == "serving_default"
    assert [_decode_rest_value(v) for v in body["instances"]] == [
        t if isinstance(t, bytes) else t.encode() for t in TEXTS
    ]
    assert body["instances"][2] == {"b64": base64.b64encode(b"broken \xff\xfe bytes").decode()}
    # Row format: one prediction object per instance, keyed by output name.
    signature = load_signature(export_base, "books")
    outputs = signature(text=tf.constant([_decode_rest_value(v) for v in body["instances"]]))
    response = {"predictions": [
        {"probabilities": p.tolist(), "label_id": int(i), "label": s.decode()}
        for p, i, s in zip(outputs["probabilities"].numpy(), outputs["label_id"].numpy(), outputs["label"].numpy())
    ]}
    predictions = clients.parse_rest_response(json.loads(json.dumps(response)))
    assert [p["label"] for p in predictions] == [s.decode() for s in outputs["label"].numpy()]

    tasks = [EXPORTED_TASKS[i % 2] for i in range(len(TEXTS))]
    multi = clients.rest_request_body(TEXTS, tasks=tasks)
    sig = signature_def(export_base / "multitask" / "1")
    assert all(sorted(row) == sorted(sig.inputs) for row in multi["instances"])
    assert clients.rest_url("localhost", "books") == "http://localhost:8501/v1/models/books:predict"
    assert clients.rest_url("h", "books", version=2, port=9) == "http://h:9/v1/models/books/versions/2:predict"
