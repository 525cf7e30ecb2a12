"""The V2 codec: every dtype and output kind round-trips in JSON and binary form; malformed messages are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_builder import Box, Boxes, ImageOutput, LabelVolume, Point, Points, Scores, Volume
from model_builder.runtime import ProtocolError, decode_request, decode_response, encode_request, encode_response
from model_builder.runtime.wire import HEADER_LENGTH

DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64",
          "bool"]
TURNED = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=float)


def _volume(dtype: str) -> Volume:
    array = (np.arange(2 * 3 * 4) % 7).reshape(2, 3, 4).astype(dtype)
    return Volume(array, spacing=(2.5, 0.75, 0.5), origin=(-10.25, 3.0, 1e-3), direction=TURNED, modality="MR",
                  attributes={"PatientAge": "054Y", "EchoTime": 4.6, "ImageType": ["ORIGINAL", "PRIMARY"]})


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_volume_round_trips_with_its_dtype_geometry_and_attributes(dtype, binary):
    volume = _volume(dtype)
    body, headers = encode_request(volume, binary=binary)
    decoded = decode_request(body, headers)
    assert decoded.array.dtype == volume.array.dtype and decoded.array.shape == (2, 3, 4)
    np.testing.assert_array_equal(decoded.array, volume.array)
    assert decoded.spacing == volume.spacing and decoded.origin == volume.origin
    np.testing.assert_array_equal(decoded.direction, TURNED)
    assert decoded.modality == "MR" and decoded.attributes == volume.attributes


def test_a_binary_request_is_a_json_header_then_the_arrays_little_endian_bytes():
    volume = Volume(np.arange(24, dtype=">i2").reshape(2, 3, 4), modality="CT")  # big-endian in memory
    body, headers = encode_request(volume)
    length = int(headers[HEADER_LENGTH])
    header = json.loads(body[:length])
    tensor, = header["inputs"]
    assert tensor == {"name": "volume", "datatype": "INT16", "shape": [2, 3, 4],
                      "parameters": {"binary_data_size": 48}}
    assert body[length:] == np.arange(24, dtype="<i2").tobytes()
    assert header["parameters"]["binary_data_output"] is True
    assert json.loads(header["parameters"]["spacing"]) == [1.0, 1.0, 1.0]
    assert json.loads(header["parameters"]["direction"]) == np.eye(3).tolist()


def test_a_json_request_carries_the_data_flat_in_row_major_order():
    volume = Volume(np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
    body, headers = encode_request(volume, binary=False)
    assert HEADER_LENGTH not in headers and headers["Content-Type"] == "application/json"
    assert json.loads(body)["inputs"][0]["data"] == list(range(8))


def test_a_request_with_nested_data_and_no_geometry_gets_the_defaults():
    body = json.dumps({"inputs": [{"name": "volume", "datatype": "FP32", "shape": [1, 2, 2],
                                   "data": [[[1.5, 2], [3, 4]]]}]}).encode()
    volume = decode_request(body, {})
    assert volume.array.dtype == np.float32 and volume.array[0, 0, 0] == 1.5
    assert volume.spacing == (1.0, 1.0, 1.0) and volume.modality == "" and volume.attributes == {}


def test_a_binary_request_decodes_into_a_writable_array_from_a_bytearray():
    body, headers = encode_request(_volume("int16"))
    decoded = decode_request(bytearray(body), headers)
    decoded.array[0, 0, 0] = 99  # models may work in place
    assert decoded.array[0, 0, 0] == 99


OUTPUTS = {
    "labels": [LabelVolume(np.array([[[0, 1], [2, 1]]], dtype=np.uint8))],
    "bool labels": [LabelVolume(np.array([[[True, False]]]))],
    "many labels": [LabelVolume(np.array([[[0, 300]]], dtype=np.int32))],
    "scores": [Scores({"Lesion": 0.75, "Cyst": 0.25})],
    "boxes": [Boxes((Box(1, (0, 1, 2), (3, 4, 5), 0.5), Box(2, (1, 1, 1), (1, 1, 1))))],
    "no boxes": [Boxes(())],
    "points": [Points((Point(2, (0.5, 1.25, 3.0), 0.125), Point(1, (1.0, 2.0, 3.0))))],
    "image": [ImageOutput(np.array([[[0.5, -2.0]]], dtype=np.float32), "denoised")],
    "int image": [ImageOutput(np.array([[[-1000, 40]]], dtype=np.int16))],
    "image and labels": [ImageOutput(np.ones((1, 1, 2), dtype=np.float64)), LabelVolume(np.ones((1, 1, 2), bool))],
    "two label maps": [LabelVolume(np.zeros((1, 1, 2), np.uint8)), LabelVolume(np.ones((1, 1, 2), np.uint8))],
}


def _same(decoded, original) -> None:
    assert type(decoded) is type(original)
    if isinstance(original, LabelVolume | ImageOutput):
        np.testing.assert_array_equal(decoded.array, original.array)
        if isinstance(original, ImageOutput):
            assert decoded.array.dtype == original.array.dtype and decoded.description == original.description
        else:
            assert decoded.array.dtype in (np.uint8, np.uint16)
    else:
        assert decoded == original


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_every_output_kind_round_trips(kind, binary):
    body, headers = encode_response(OUTPUTS[kind], model_name="m", model_version="2", id="r-1", binary=binary,
                                    parameters={"timing_run": 0.5})
    decoded = decode_response(body, headers)
    assert len(decoded) == len(OUTPUTS[kind])
    for got, original in zip(decoded, OUTPUTS[kind], strict=True):
        _same(got, original)


def test_a_response_names_each_outputs_tensors_and_tags_them_with_the_outputs_position():
    body, headers = encode_response(OUTPUTS["two label maps"] + OUTPUTS["boxes"], model_name="m", id="r-1",
                                    binary=False, parameters={"timing_run": 0.5})
    header = json.loads(body)
    assert header["model_name"] == "m" and header["id"] == "r-1" and header["parameters"] == {"timing_run": 0.5}
    names = [(t["name"], t["datatype"], t["shape"], t["parameters"]["output_index"]) for t in header["outputs"]]
    assert names == [("labels", "UINT8", [1, 1, 2], 0), ("labels_1", "UINT8", [1, 1, 2], 1),
                     ("boxes_start", "INT32", [2, 3], 2), ("boxes_end", "INT32", [2, 3], 2),
                     ("boxes_label", "INT32", [2], 2), ("boxes_score", "FP32", [2], 2)]
    assert header["outputs"][-1]["data"] == [0.5, -1.0]  # -1: the second box has no score


def test_scores_carry_their_label_names_in_a_parameter():
    body, headers = encode_response(OUTPUTS["scores"], model_name="m", binary=False)
    tensor, = json.loads(body)["outputs"]
    assert tensor["data"] == [0.75, 0.25] and json.loads(tensor["parameters"]["labels"]) == ["Lesion", "Cyst"]


def test_binary_can_be_chosen_per_output_tensor():
    body, headers = encode_response(OUTPUTS["image and labels"], model_name="m", binary={"labels"})
    header = json.loads(body[:int(headers[HEADER_LENGTH])])
    image, labels = header["outputs"]
    assert "data" in image and "binary_data_size" not in image["parameters"]
    assert "data" not in labels and labels["parameters"]["binary_data_size"] == 2
    _same(decode_response(body, headers)[1], OUTPUTS["image and labels"][1])


def _request(**changes) -> tuple[bytes, dict[str, str]]:
    """A valid binary request for a 1x2x2 INT16 volume, with parts of its JSON header replaced."""
    body, headers = encode_request(Volume(np.zeros((1, 2, 2), np.int16), modality="CT"))
    length = int(headers[HEADER_LENGTH])
    header, blob = json.loads(body[:length]), body[length:]
    for path, value in changes.items():
        target, *keys = path.split("__")
        node = header["inputs"][0] if target == "tensor" else header
        for key in keys[:-1]:
            node = node[key]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    text = json.dumps(header).encode()
    return text + blob, {HEADER_LENGTH: str(len(text))}


MALFORMED = {
    "byte size": (_request(tensor__parameters__binary_data_size=6), "needs 8 bytes, binary_data_size says 6"),
    "shape": (_request(tensor__shape=[1, 2, 3]), "needs 12 bytes, binary_data_size says 8"),
    "datatype": (_request(tensor__datatype="COMPLEX64"), "datatype 'COMPLEX64' is not supported"),
    "no datatype": (_request(tensor__datatype=None), "datatype None is not supported"),
    "bad shape": (_request(tensor__shape=[1, -2, 2]), "shape must be a list of non-negative integers"),
    "2-D": (_request(tensor__shape=[2, 2], tensor__parameters__binary_data_size=8), "non-empty 3-D shape"),
    "NaN spacing": (_request(header__parameters__spacing="[NaN, 1, 1]"), "'spacing' holds NaN"),
    "infinite origin": (_request(header__parameters__origin="[Infinity, 0, 0]"), "'origin' holds Infinity"),
    "negative spacing": (_request(header__parameters__spacing="[1, -1, 1]"), "'spacing': must be positive"),
    "spacing not JSON": (_request(header__parameters__spacing="1,1,1]"), "'spacing' is not valid JSON"),
    "spacing as a list": (_request(header__parameters__spacing=[1, 1, 1]), "send lists and objects as JSON strings"),
    "spacing a number": (_request(header__parameters__spacing=1), "'spacing' must be a JSON string"),
    "two numbers": (_request(header__parameters__origin="[1, 2]"), "'origin': must be three finite numbers"),
    "skewed direction": (_request(header__parameters__direction="[[1,1,0],[0,1,0],[0,0,1]]"), "orthonormal"),
    "attributes": (_request(header__parameters__attributes="[1]"), "'attributes' must be a JSON object"),
    "modality": (_request(header__parameters__modality=3), "'modality' must be a string"),
    "missing tensor": (_request(tensor__name="image"), "no input tensor 'volume'"),
    "no inputs": (_request(header__inputs=None), "'inputs' must be a list of tensors"),
    "no data": (_request(tensor__parameters__binary_data_size=None), "neither 'data' nor"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_request_is_refused_saying_what_is_wrong(case):
    (body, headers), message = MALFORMED[case]
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("(", r"\(")):
        decode_request(body, headers)


def _raw(header: dict, blob: bytes = b"", length: str | None = None) -> tuple[bytes, dict[str, str]]:
    text = json.dumps(header).encode()
    return text + blob, ({HEADER_LENGTH: length if length is not None else str(len(text))} if blob or length else {})


VOLUME_JSON = {"name": "volume", "datatype": "INT16", "shape": [1, 1, 2]}
RAW = {
    "not JSON": ((b"\x00\x01binary", {}), "not a JSON object"),
    "JSON list": ((b"[1, 2]", {}), "must be a JSON object"),
    "header length too big": (_raw({"inputs": []}, b"abc", "9999"), "is 9999 but the body has"),
    "header length not a number": (_raw({"inputs": []}, b"abc", "ten"), "must be the JSON part's length"),
    "trailing bytes": (_raw({"inputs": [{**VOLUME_JSON, "parameters": {"binary_data_size": 4}}]}, b"\0" * 6),
                       "2 bytes after the last tensor"),
    "short body": (_raw({"inputs": [{**VOLUME_JSON, "parameters": {"binary_data_size": 4}}]}, b"\0" * 3),
                   "runs past the end of the body"),
    "count": (_raw({"inputs": [{**VOLUME_JSON, "data": [1, 2, 3]}]}), "data has 3 values, shape"),
    "fractions": (_raw({"inputs": [{**VOLUME_JSON, "data": [1.5, 2]}]}), "holds fractions"),
    "overflow": (_raw({"inputs": [{**VOLUME_JSON, "datatype": "UINT8", "data": [-1, 300]}]}), "do not fit uint8"),
    "strings": (_raw({"inputs": [{**VOLUME_JSON, "data": ["a", "b"]}]}), "must hold only numbers"),
    "ragged": (_raw({"inputs": [{**VOLUME_JSON, "data": [[1], [2, 3]]}]}), "not a rectangular list"),
    "NaN data": ((b'{"inputs": [{"name": "volume", "datatype": "FP32", "shape": [1, 1, 1], "data": [NaN]}]}', {}),
                 "NaN is not valid JSON"),
    "duplicate": (_raw({"inputs": [{**VOLUME_JSON, "data": [1, 2]}] * 2}), "tensor names must be unique"),
    "extra input": (_raw({"inputs": [{**VOLUME_JSON, "data": [1, 2]}, {**VOLUME_JSON, "name": "mask",
                                                                       "data": [0, 1]}]}), "unknown input tensor"),
    "parameter object": (_raw({"inputs": [{**VOLUME_JSON, "data": [1, 2], "parameters": {"a": {"b": 1}}}]}),
                         "a V2 parameter is a string"),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_a_malformed_message_body_is_refused(case):
    (body, headers), message = RAW[case]
    with pytest.raises(ProtocolError, match=message):
        decode_request(body, headers)


def test_an_oversized_json_part_is_refused_before_it_is_parsed():
    body, headers = encode_request(Volume(np.zeros((4, 16, 16), np.int16)), binary=False)
    with pytest.raises(ProtocolError, match="over the limit of 1000: send tensors with the binary tensor data"):
        decode_request(body, headers, max_json_bytes=1000)
    body, headers = _raw({"inputs": [], "pad": "x" * 2000}, b"\0", None)
    with pytest.raises(ProtocolError, match="JSON part has 20"):
        decode_request(body, headers, max_json_bytes=1000)


def test_a_response_with_unnamed_scores_or_partial_boxes_is_refused():
    body, headers = encode_response(OUTPUTS["scores"], model_name="m", binary=False)
    header = json.loads(body)
    header["outputs"][0]["parameters"]["labels"] = '["Lesion"]'
    with pytest.raises(ProtocolError, match="'scores' has 2 values but its 'labels' parameter"):
        decode_response(json.dumps(header).encode(), {})
    body, headers = encode_response(OUTPUTS["boxes"], model_name="m", binary=False, names={"boxes_start"})
    with pytest.raises(ProtocolError, match="a Boxes output needs the tensor 'boxes_end'"):
        decode_response(body, headers)


def test_an_array_v2_cannot_carry_is_refused():
    with pytest.raises(ProtocolError, match="dtype complex64 has no V2 datatype"):
        encode_response([ImageOutput(np.zeros((1, 1, 1), np.complex64))], model_name="m")
    with pytest.raises(ProtocolError, match="NaN or infinity, which JSON cannot carry: send it binary"):
        encode_response([ImageOutput(np.full((1, 1, 1), np.nan))], model_name="m", binary=False)
