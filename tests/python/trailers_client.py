"""A grpcio peer for tests/tests/python_peer.rs: calls the Greeter in all four modes and prints,
one JSON line per mode, the status code, the replies, and the response headers and trailers as
grpcio hands them over (initial and trailing metadata apart).

Needs grpcio only: the calls are generic and the one-string-field messages are encoded by hand.

Usage: python trailers_client.py HOST:PORT
"""

import json
import sys

import grpc

SERVICE = "/greeter.v1.Greeter/"


def encode_string_field(text):
    """A message whose only field is string field 1 (tag 0x0a: field 1, wire type 2)."""
    data = text.encode("utf-8")
    out = bytearray(b"\x0a")
    length = len(data)
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    return bytes(out + data)


def read_varint(data, pos):
    """Returns (value, next position); raises on a truncated or over-long varint."""
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise ValueError("varint too long")


def decode_string_field(data):
    """The last value of string field 1; other fields are skipped, as proto3 parsers do."""
    text = ""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated length-delimited field")
            if field == 1:
                text = data[pos : pos + length].decode("utf-8")
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if pos > len(data):
            raise ValueError("truncated field")
    return text


def metadata_dict(metadata):
    """Key to value; a repeated key joins its values with ', ' so duplicates stay visible."""
    out = {}
    for key, value in metadata or ():
        if isinstance(value, bytes):
            value = value.hex()
        out[key] = out[key] + ", " + value if key in out else value
    return out


def record(mode, call, replies):
    return {
        "mode": mode,
        "code": call.code().name,
        "replies": replies,
        "headers": metadata_dict(call.initial_metadata()),
        "trailers": metadata_dict(call.trailing_metadata()),
    }


def main():
    target = sys.argv[1]
    kwargs = dict(
        request_serializer=encode_string_field,
        response_deserializer=decode_string_field,
    )
    # A proxy from the environment must not carry a loopback call.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(target, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)

        say_hello = channel.unary_unary(SERVICE + "SayHello", **kwargs)
        reply, call = say_hello.with_call("ann", timeout=10)
        print(json.dumps(record("unary", call, [reply]), sort_keys=True), flush=True)

        lots_of_replies = channel.unary_stream(SERVICE + "LotsOfReplies", **kwargs)
        responses = lots_of_replies("3", timeout=10)
        replies = list(responses)
        print(json.dumps(record("server_streaming", responses, replies), sort_keys=True), flush=True)

        lots_of_greetings = channel.stream_unary(SERVICE + "LotsOfGreetings", **kwargs)
        reply, call = lots_of_greetings.with_call(iter(["a", "b", "c"]), timeout=10)
        print(json.dumps(record("client_streaming", call, [reply]), sort_keys=True), flush=True)

        bidi_hello = channel.stream_stream(SERVICE + "BidiHello", **kwargs)
        responses = bidi_hello(iter(["x", "y"]), timeout=10)
        replies = list(responses)
        print(json.dumps(record("bidi_streaming", responses, replies), sort_keys=True), flush=True)


if __name__ == "__main__":
    try:
        main()
    except BaseException as error:  # any failure, including a non-OK RpcError, fails the test
        print("trailers_client.py: %r" % (error,), file=sys.stderr)
        sys.exit(1)
