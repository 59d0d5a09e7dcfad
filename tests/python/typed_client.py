"""A grpcio peer for tests/tests/python_peer.rs: calls the stress set's Typed service, whose
contract declares typed request metadata (`r-` keys) that the server echoes as response headers
(`h-` keys) and trailers (`t-` keys).

Prints one JSON line per call: the mode and case, the status code and details, the replies, and
the response headers and trailers as grpcio hands them over (initial and trailing metadata
apart), each as a list of [key, value] pairs in the order received, binary values hex-encoded.

Cases: the four modes with a valid value for every declared key; the four modes with a
malformed `r-int64`; Unary without the required `r-string`; Strict without its required
`r-int64`, and with it.

Needs grpcio only: the calls are generic and the one-string-field messages are encoded by hand
(with the helpers of trailers_client.py, next to this file).

Usage: python typed_client.py HOST:PORT
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from trailers_client import decode_string_field, encode_string_field  # noqa: E402

SERVICE = "/stress.api.v1.Typed/"

# A valid value for every declared request key, in the order sent; r-tag twice.
VALID = [
    ("r-string", "plain text"),
    ("r-int64", "-42"),
    ("r-uint64", "18446744073709551615"),
    ("r-bool", "true"),
    ("r-double", "2.5"),
    ("r-bytes-bin", b"\x00\xff\xfe"),  # not UTF-8
    ("r-duration", "1.5s"),
    ("r-timestamp", "2026-11-23T10:00:00Z"),
    ("r-enum", "ORDER_DESCENDING"),
    # stress.common.v1.Page.Window { length: 5s }: field 2 holding Duration { seconds: 5 }.
    ("r-message-bin", b"\x12\x02\x08\x05"),
    ("r-tag", "plain tag"),
    ("r-tag", "100%"),  # not a valid percent-escape: read as the text itself
]


def without(key):
    return [(k, v) for k, v in VALID if k != key]


def replacing(key, value):
    return [(k, value if k == key else v) for k, v in VALID]


def metadata_pairs(metadata):
    """[key, value] in the order received; bytes (grpcio's -bin values) hex-encoded."""
    return [
        [key, value.hex() if isinstance(value, bytes) else value]
        for key, value in metadata or ()
    ]


def call_mode(channel, mode, metadata):
    """Calls `mode` with `metadata`; returns (call, replies), the call an RpcError on failure."""
    kwargs = dict(
        request_serializer=encode_string_field,
        response_deserializer=decode_string_field,
    )
    replies = []
    try:
        if mode == "unary":
            stub = channel.unary_unary(SERVICE + "Unary", **kwargs)
            reply, call = stub.with_call("u", metadata=metadata, timeout=10)
            replies.append(reply)
        elif mode == "strict":
            stub = channel.unary_unary(SERVICE + "Strict", **kwargs)
            reply, call = stub.with_call("s", metadata=metadata, timeout=10)
            replies.append(reply)
        elif mode == "server_streaming":
            stub = channel.unary_stream(SERVICE + "ServerStream", **kwargs)
            call = stub("s", metadata=metadata, timeout=10)
            for reply in call:
                replies.append(reply)
        elif mode == "client_streaming":
            stub = channel.stream_unary(SERVICE + "ClientStream", **kwargs)
            reply, call = stub.with_call(iter(["a", "b", "c"]), metadata=metadata, timeout=10)
            replies.append(reply)
        elif mode == "bidi_streaming":
            stub = channel.stream_stream(SERVICE + "Bidi", **kwargs)
            call = stub(iter(["x", "y"]), metadata=metadata, timeout=10)
            for reply in call:
                replies.append(reply)
        else:
            raise ValueError("no mode %r" % mode)
    except grpc.RpcError as error:
        if not isinstance(error, grpc.Call):
            raise
        call = error
    return call, replies


def record(mode, case, call, replies):
    return {
        "mode": mode,
        "case": case,
        "code": call.code().name,
        "details": call.details() or "",
        "replies": replies,
        "headers": metadata_pairs(call.initial_metadata()),
        "trailers": metadata_pairs(call.trailing_metadata()),
    }


MODES = ["unary", "server_streaming", "client_streaming", "bidi_streaming"]

CASES = (
    [(mode, "valid", VALID) for mode in MODES]
    + [(mode, "malformed_int64", replacing("r-int64", "abc")) for mode in MODES]
    + [
        ("unary", "missing_string", without("r-string")),
        ("strict", "missing_int64", without("r-int64")),
        ("strict", "valid", replacing("r-int64", "7")),
    ]
)


def main():
    target = sys.argv[1]
    # A proxy from the environment must not carry a loopback call.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        for mode, case, metadata in CASES:
            call, replies = call_mode(channel, mode, metadata)
            line = record(mode, case, call, replies)
            print(json.dumps(line, sort_keys=True), flush=True)


if __name__ == "__main__":
    try:
        main()
    except BaseException as error:  # anything but a call's own status fails the test
        print("typed_client.py: %r" % (error,), file=sys.stderr)
        sys.exit(1)
