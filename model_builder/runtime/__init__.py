"""The model runtime: one bundle served over the Open Inference Protocol (KServe V2 REST), and its codec.

`python -m model_builder.runtime --bundle DIR --unix PATH` serves; `codec` turns SDK objects into V2
messages and back, for the runtime and for the platform calling models. Nothing heavy is imported here.
"""

from .codec import decode_request, decode_response, encode_request, encode_response
from .errors import ModelFailedError, ModelRuntimeError, PayloadTooLarge, ProtocolError, RuntimeLoadError
from .loader import LoadedModel, load_application

__all__ = [
    "LoadedModel", "ModelFailedError", "ModelRuntimeError", "PayloadTooLarge", "ProtocolError", "RuntimeLoadError",
    "decode_request", "decode_response", "encode_request", "encode_response", "load_application",
]
