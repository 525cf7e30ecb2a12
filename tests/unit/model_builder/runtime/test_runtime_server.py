"""The V2 endpoints over real sockets: a runtime process per bundle, on a Unix socket and on a loopback port."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_builder import Box, Boxes, LabelVolume, Point, Points, Scores, Volume
from model_builder.runtime import decode_response, encode_request
from model_builder.runtime.client import ModelClient
from model_builder.runtime.errors import ModelCallError
from model_builder.runtime.wire import HEADER_LENGTH
from model_builder.testing import CLASSICAL_TEMPLATE, write_bundle


def _get(client: ModelClient, path: str) -> tuple[int, dict]:
    status, content, headers = client.request("GET", path)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(content)


def test_health_and_server_metadata_answer_in_the_v2_shapes(classical):
    client = classical.client()
    assert _get(client, "/v2/health/live") == (200, {"live": True})
    assert _get(client, "/v2/health/ready") == (200, {"ready": True})
    status, server = _get(client, "/v2")
    assert status == 200 and server["name"] == "medcloudcare-model-runtime"
    assert "binary_tensor_data" in server["extensions"]


def test_model_metadata_names_the_tensors_and_the_manifests_task_modality_and_labels(classical):
    status, metadata = _get(classical.client(), "/v2/models/ct-body-mask")
    assert status == 200
    assert metadata["name"] == "ct-body-mask" and metadata["versions"] == ["1"]
    assert metadata["platform"] == "medcloudcare-sdk"
    assert metadata["inputs"] == [{"name": "volume", "datatype": "INT16", "shape": [-1, -1, -1]}]
    assert [o["name"] for o in metadata["outputs"]] == ["image", "labels"]
    assert metadata["parameters"]["task"] == "processing" and metadata["parameters"]["modality"] == "CT"
    assert json.loads(metadata["parameters"]["labels"]) == ["Body"]
    assert metadata["manifest"]["entry_point"] == "app:BodyMaskApplication"
    assert _get(classical.client(), "/v2/models/ct-body-mask/versions/1") == (200, metadata)


def test_model_readiness_with_and_without_a_version(classical):
    assert classical.client().ready() and classical.client(version="1").ready()
    assert _get(classical.client(), "/v2/models/ct-body-mask/versions/1/ready") == \
        (200, {"name": "ct-body-mask", "ready": True})


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/v2/models/liver", 404, "unknown model 'liver': this runtime serves 'ct-body-mask'"),
    ("GET", "/v2/models/liver/ready", 404, "unknown model 'liver'"),
    ("GET", "/v2/models/ct-body-mask/versions/7/ready", 404, "has no version '7': this runtime serves version '1'"),
    ("POST", "/v2/models/ct-body-mask/versions/7/infer", 404, "has no version '7'"),
    ("POST", "/v2/models/liver/infer", 404, "unknown model 'liver'"),
    ("GET", "/v2/repository/index", 404, "no V2 endpoint at /v2/repository/index"),
    ("GET", "/v2/models/ct-body-mask/infer", 405, "answers POST, not GET"),
    ("POST", "/v2/health/live", 405, "answers GET, not POST"),
])
def test_unknown_models_versions_and_endpoints_answer_the_v2_error_body(classical, method, path, status, message):
    got, content, _ = classical.client().request(method, path, b"{}" if method == "POST" else b"")
    assert got == status and message in json.loads(content)["error"]


def test_infer_over_a_unix_socket_equals_calling_the_application_in_process(classical, body_ct, classical_app):
    outputs, parameters = classical.client().infer(body_ct)
    label_map, = outputs
    expected = classical_app.run(body_ct)
    assert label_map.array.dtype == np.uint8
    np.testing.assert_array_equal(label_map.array, expected.array)
    assert expected.array.sum() > 0
    assert {"timing_decode", "timing_run", "timing_validate", "timing_infer"} <= set(parameters)


def test_a_binary_request_gets_a_binary_response_in_the_documented_layout(classical, body_ct, classical_app):
    body, headers = encode_request(body_ct, id="series-7")
    status, content, reply_headers = classical.client().request("POST", "/v2/models/ct-body-mask/infer", body,
                                                                headers)
    assert status == 200 and reply_headers["Content-Type"] == "application/octet-stream"
    length = int(reply_headers[HEADER_LENGTH])
    header = json.loads(content[:length])
    assert header["id"] == "series-7" and header["model_name"] == "ct-body-mask" and header["model_version"] == "1"
    tensor, = header["outputs"]
    assert tensor["name"] == "labels" and tensor["datatype"] == "UINT8" and tensor["shape"] == list(body_ct.shape)
    assert tensor["parameters"]["binary_data_size"] == body_ct.array.size == len(content) - length
    np.testing.assert_array_equal(np.frombuffer(content[length:], np.uint8).reshape(body_ct.shape),
                                  classical_app.run(body_ct).array)


def test_a_plain_json_request_gets_a_plain_json_response(classical):
    request = {"inputs": [{"name": "volume", "shape": [1, 2, 3], "datatype": "INT16",
                           "data": [-1000, 40, 40, 40, 40, -1000]}],
               "parameters": {"modality": "CT", "spacing": "[3, 0.5, 0.5]"}}
    status, content, headers = classical.client().request("POST", "/v2/models/ct-body-mask/infer",
                                                          json.dumps(request).encode(),
                                                          {"Content-Type": "application/json"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    tensor, = json.loads(content)["outputs"]
    assert tensor["data"] == [0, 1, 1, 1, 1, 0] and tensor["shape"] == [1, 2, 3]


def test_outputs_are_sent_binary_per_requested_output(classical, body_ct, classical_app):
    body, headers = encode_request(body_ct, binary=False, outputs_binary=False)
    request = json.loads(body)
    request["outputs"] = [{"name": "labels", "parameters": {"binary_data": True}}]
    status, content, reply_headers = classical.client().request(
        "POST", "/v2/models/ct-body-mask/infer", json.dumps(request).encode(), {})
    assert status == 200 and int(reply_headers[HEADER_LENGTH]) < len(content)
    np.testing.assert_array_equal(decode_response(content, reply_headers)[0].array, classical_app.run(body_ct).array)
    request["outputs"] = [{"name": "segmentation"}]
    status, content, _ = classical.client().request("POST", "/v2/models/ct-body-mask/infer",
                                                    json.dumps(request).encode(), {})
    assert status == 400 and "unknown output(s) ['segmentation']" in json.loads(content)["error"]


def test_a_malformed_request_is_a_400_saying_what_is_wrong(classical):
    body, headers = encode_request(Volume(np.zeros((2, 2, 2), np.int16), modality="CT"))
    headers[HEADER_LENGTH] = str(int(headers[HEADER_LENGTH]) - 1)
    status, content, _ = classical.client().request("POST", "/v2/models/ct-body-mask/infer", body, headers)
    assert status == 400 and "the body is not a JSON object" in json.loads(content)["error"]
    status, content, _ = classical.client().request("POST", "/v2/models/ct-body-mask/infer", b"[]", {})
    assert status == 400 and json.loads(content) == {"error": "the body must be a JSON object"}


def test_a_series_the_model_refuses_is_a_422_with_the_sdks_message(classical, body_ct):
    with pytest.raises(ModelCallError) as caught:
        classical.client().infer(Volume(body_ct.array, modality="MR"))
    assert caught.value.status == 422
    assert str(caught.value) == "the model refused the series: Volume.modality: BodyMask runs on CT, not MR"


def test_the_service_keeps_answering_after_errors_on_the_same_connection(classical, body_ct):
    client = classical.client()
    for _ in range(2):
        with pytest.raises(ModelCallError):
            client.infer(Volume(body_ct.array, modality="MR"))
        assert client.infer(body_ct)[0][0].array.shape == body_ct.shape


def test_a_request_over_the_size_cap_is_a_413_and_the_client_reads_it(serve):
    runtime = serve(CLASSICAL_TEMPLATE, args=("--max-request-bytes", "4096"))
    volume = Volume(np.zeros((4, 32, 32), np.int16), modality="CT")  # 8 KiB of voxels
    with pytest.raises(ModelCallError) as caught:
        runtime.client().infer(volume)
    assert caught.value.status == 413 and "over this runtime's limit of 4096" in str(caught.value)
    assert runtime.client().infer(Volume(np.zeros((1, 8, 8), np.int16), modality="CT"))[0]


def test_an_oversized_body_announced_with_expect_100_continue_is_refused_before_it_is_sent(serve):
    runtime = serve(CLASSICAL_TEMPLATE, args=("--max-request-bytes", "4096"))
    with runtime.connection() as sock:
        sock.sendall(b"POST /v2/models/ct-body-mask/infer HTTP/1.1\r\nHost: model\r\nContent-Length: 5000000000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    status, _, body = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 413 ")
    assert b"5000000000 bytes, over this runtime's limit of 4096" in body


def test_the_runtime_serves_on_a_loopback_port_too(serve, body_ct, classical_app):
    runtime = serve(CLASSICAL_TEMPLATE, tcp=True, args=("--name", "body", "--version", "3"))
    client = runtime.client("body", version="3")
    assert client.ready()
    np.testing.assert_array_equal(client.infer(body_ct)[0][0].array, classical_app.run(body_ct).array)
    status, content, _ = client.request("GET", "/v2/models/ct-body-mask")
    assert status == 404


def test_a_model_that_raises_is_a_500_naming_the_exception_and_the_researchers_line(serve, short_dir, ct):
    runtime = serve(write_bundle(short_dir / "raises", "raises_in_run"))
    with pytest.raises(ModelCallError) as caught:
        runtime.client("test-model").infer(ct)
    assert caught.value.status == 500
    assert str(caught.value) == "the model failed: ValueError: the threshold is not set at app.py:6"


def test_a_model_whose_output_has_the_wrong_shape_is_refused_with_the_sdks_message(serve, short_dir, ct):
    runtime = serve(write_bundle(short_dir / "shape", "wrong_shape"))
    with pytest.raises(ModelCallError) as caught:
        runtime.client("test-model").infer(ct)
    assert caught.value.status == 500
    assert str(caught.value) == ("the model failed: OutputError: LabelVolume: shape (1, 1, 1) differs from the"
                                 " input's (4, 8, 8); resample the labels back onto the input grid")


EXPECTED = {
    "segmentation": [LabelVolume(np.array([[[0, 1, 2]]], dtype=np.uint8))],
    "classification": [Scores({"Lesion": 0.75, "Cyst": 0.25})],
    "detection": [Boxes((Box(1, (0, 0, 0), (0, 1, 2), 0.5), Box(2, (0, 1, 1), (0, 1, 1))))],
    "localisation": [Points((Point(2, (0.0, 1.5, 0.25), 0.125),)), Points(())],
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_every_task_kind_answers_its_outputs_over_http(serve, short_dir, task):
    runtime = serve(write_bundle(short_dir / task, "every_kind", task=task))
    volume = Volume(np.array([[[-5, 50, 200]]], dtype=np.int16) if task == "segmentation"
                    else np.zeros((1, 2, 3), np.int16), modality="CT")
    outputs, _ = runtime.client("test-model").infer(volume)
    if task == "segmentation":
        np.testing.assert_array_equal(outputs[0].array, EXPECTED[task][0].array)
    else:
        assert outputs == EXPECTED[task]
    with pytest.raises(ModelCallError) as caught:
        runtime.client("test-model").infer(Volume(volume.array, attributes={"Refuse": 1}))
    assert caught.value.status == 422 and "Refuse is set" in str(caught.value)


def test_a_processing_model_answers_an_image_and_a_label_map(serve, short_dir):
    runtime = serve(write_bundle(short_dir / "p", "every_kind", task="processing"))
    volume = Volume(np.array([[[-3, 0, 4]]], dtype=np.int16), modality="CT")
    image, labels = runtime.client("test-model").infer(volume)[0]
    assert image.array.dtype == np.float32 and image.description == "doubled"
    np.testing.assert_array_equal(image.array, [[[-6, 0, 8]]])
    np.testing.assert_array_equal(labels.array, [[[0, 0, 1]]])
