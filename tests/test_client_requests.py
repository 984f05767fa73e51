"""REST and gRPC request helpers take lists of rows: a bare str or bytes is refused with a clear error (not sent
character by character), and task names given as bytes are sent as the names themselves."""

import json

import pytest

from tf_aspmtl.export import clients


def grpc_request(texts, tasks=None):
    pytest.importorskip("tensorflow_serving.apis")
    return clients.grpc_predict_request("books", texts, tasks=tasks)


@pytest.mark.parametrize("build", [clients.rest_request_body, grpc_request], ids=["rest", "grpc"])
@pytest.mark.parametrize("texts", ["good", b"good"], ids=["str", "bytes"])
def test_a_single_text_is_refused_with_a_pointer_to_a_list(build, texts):
    with pytest.raises(ValueError, match=r"'texts' must be a list of rows \(e\.g\. \[b?'good'\]\), not a single"):
        build(texts)


@pytest.mark.parametrize("build", [clients.rest_request_body, grpc_request], ids=["rest", "grpc"])
@pytest.mark.parametrize("tasks", ["books", b"books"], ids=["str", "bytes"])
def test_a_single_task_name_is_refused_with_a_pointer_to_a_list(build, tasks):
    with pytest.raises(ValueError, match="'tasks' must be a list of rows"):
        build(["good"], tasks)


@pytest.mark.parametrize("build", [clients.rest_request_body, grpc_request], ids=["rest", "grpc"])
def test_one_text_in_a_list_is_one_row(build):
    if build is grpc_request:
        request = build([b"good"], [b"books"])
        assert [d.size for d in request.inputs["text"].tensor_shape.dim] == [1]
        assert list(request.inputs["task"].string_val) == [b"books"]
    else:
        assert build(["good"])["instances"] == ["good"]
        assert build((b"good",))["instances"] == ["good"]


def test_rest_sends_bytes_task_names_as_the_names():
    body = json.loads(json.dumps(clients.rest_request_body(["good", b"dull"], tasks=[b"books", "dvd"])))
    assert body["instances"] == [{"text": "good", "task": "books"}, {"text": "dull", "task": "dvd"}]
    with pytest.raises(ValueError, match=r"Task name b'\\xff' is not valid UTF-8"):
        clients.rest_request_body(["good"], tasks=[b"\xff"])
    with pytest.raises(TypeError, match="Task names must be str or bytes; got int: 3"):
        clients.rest_request_body(["good"], tasks=[3])
