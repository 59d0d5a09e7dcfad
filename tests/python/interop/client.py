"""gRPC's interop test client on grpcio, the peer of our server.

Flags as gRPC's interop spec (--server_host, --server_port, --server_host_override,
--test_case, --use_tls, --use_test_ca) plus grpc-go's --ca_file: the test CA to trust with
--use_test_ca (none is built in). Prints `PASS <case>` per case passed and `FAIL <case>: <what
differed>` per case failed, and exits 1 if any failed.
"""

import argparse
import collections
import queue
import sys
import time

import grpc

import common

messages, empty, services = common.load()

ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
# Every call's deadline: a hung server fails its case instead of blocking the client.
CALL_TIMEOUT = 20


# The stubs the cases call, over one channel.
Stubs = collections.namedtuple("Stubs", ["test", "unimplemented"])


class Failure(Exception):
    """What differed from what the spec wants."""


def ensure(condition, message):
    if not condition:
        raise Failure(message)


def check_payload(what, payload, size):
    ensure(payload.type == messages.COMPRESSABLE, f"{what} has payload type {payload.type}")
    ensure(len(payload.body) == size, f"{what} has a payload of {len(payload.body)} bytes, want {size}")
    ensure(payload.body == bytes(size), f"{what} has a payload that is not all zeros")


def check_status(what, error, code, message=None):
    ensure(error is not None, f"{what} succeeded, want {code.name}")
    ensure(error.code() == code, f"{what} ended {error.code().name}: {error.details()!r}, want {code.name}")
    if message is not None:
        ensure(error.details() == message, f"{what} ended with message {error.details()!r}, want {message!r}")


def zeros(size):
    return messages.Payload(type=messages.COMPRESSABLE, body=bytes(size))


def output_request(sizes, payload_size=None, status=None):
    request = messages.StreamingOutputCallRequest(
        response_type=messages.COMPRESSABLE,
        response_parameters=[messages.ResponseParameters(size=size) for size in sizes],
    )
    if payload_size is not None:
        request.payload.CopyFrom(zeros(payload_size))
    if status is not None:
        request.response_status.CopyFrom(status)
    return request


def large_request():
    return messages.SimpleRequest(
        response_type=messages.COMPRESSABLE, response_size=314159, payload=zeros(271828)
    )


class Pipe:
    """A request iterator fed one message at a time; `close` half-closes the call."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, request):
        self._queue.put(request)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            raise StopIteration
        return item


def failed_call(call):
    """The RpcError `call` raises, or None when it succeeds."""
    try:
        call()
    except grpc.RpcError as error:
        return error
    return None


def empty_unary(stubs):
    response = stubs.test.EmptyCall(empty.Empty(), timeout=CALL_TIMEOUT)
    ensure(isinstance(response, empty.Empty), f"EmptyCall answered {type(response).__name__}")


def large_unary(stubs):
    response = stubs.test.UnaryCall(large_request(), timeout=CALL_TIMEOUT)
    check_payload("the UnaryCall response", response.payload, 314159)


def client_streaming(stubs):
    requests = [messages.StreamingInputCallRequest(payload=zeros(n)) for n in (27182, 8, 1828, 45904)]
    response = stubs.test.StreamingInputCall(iter(requests), timeout=CALL_TIMEOUT)
    size = response.aggregated_payload_size
    ensure(size == 74922, f"StreamingInputCall reported {size} bytes, want 74922")


def server_streaming(stubs):
    sizes = [31415, 9, 2653, 58979]
    responses = list(stubs.test.StreamingOutputCall(output_request(sizes), timeout=CALL_TIMEOUT))
    ensure(len(responses) == len(sizes), f"StreamingOutputCall brought {len(responses)} responses, want 4")
    for index, (response, size) in enumerate(zip(responses, sizes)):
        check_payload(f"StreamingOutputCall's response {index + 1}", response.payload, size)


def ping_pong(stubs):
    pipe = Pipe()
    responses = stubs.test.FullDuplexCall(pipe, timeout=CALL_TIMEOUT)
    try:
        for index, (size, ping) in enumerate(zip([31415, 9, 2653, 58979], [27182, 8, 1828, 45904])):
            pipe.add(output_request([size], ping))
            response = next(responses, None)
            ensure(response is not None, f"FullDuplexCall ended before response {index + 1}")
            check_payload(f"FullDuplexCall's response {index + 1}", response.payload, size)
    finally:
        pipe.close()
    ensure(next(responses, None) is None, "FullDuplexCall sent a response beyond the 4 asked for")


def empty_stream(stubs):
    responses = list(stubs.test.FullDuplexCall(iter([]), timeout=CALL_TIMEOUT))
    ensure(not responses, f"FullDuplexCall with no request brought {len(responses)} responses")


def check_echo(what, initial, trailing):
    initial = [pair for pair in initial if pair[0] == ECHO_INITIAL[0]]
    ensure(initial == [ECHO_INITIAL], f"{what}'s response headers carry {initial}, want {[ECHO_INITIAL]}")
    trailing = [pair for pair in trailing if pair[0] == ECHO_TRAILING[0]]
    ensure(trailing == [ECHO_TRAILING], f"{what}'s trailers carry {trailing}, want {[ECHO_TRAILING]}")


def custom_metadata(stubs):
    metadata = [ECHO_INITIAL, ECHO_TRAILING]
    response, call = stubs.test.UnaryCall.with_call(large_request(), metadata=metadata, timeout=CALL_TIMEOUT)
    check_echo("UnaryCall", call.initial_metadata(), call.trailing_metadata())
    check_payload("the UnaryCall response", response.payload, 314159)

    request = output_request([314159], 271828)
    call = stubs.test.FullDuplexCall(iter([request]), metadata=metadata, timeout=CALL_TIMEOUT)
    responses = list(call)
    check_echo("FullDuplexCall", call.initial_metadata(), call.trailing_metadata())
    ensure(len(responses) == 1, f"FullDuplexCall brought {len(responses)} responses, want 1")
    check_payload("FullDuplexCall's response", responses[0].payload, 314159)


def echoes_status(stubs, message, bidi):
    status = messages.EchoStatus(code=2, message=message)
    request = messages.SimpleRequest(response_status=status)
    error = failed_call(lambda: stubs.test.UnaryCall(request, timeout=CALL_TIMEOUT))
    check_status("UnaryCall", error, grpc.StatusCode.UNKNOWN, message)
    if bidi:
        request = output_request([], status=status)
        error = failed_call(lambda: list(stubs.test.FullDuplexCall(iter([request]), timeout=CALL_TIMEOUT)))
        check_status("FullDuplexCall", error, grpc.StatusCode.UNKNOWN, message)


def status_code_and_message(stubs):
    echoes_status(stubs, "test status message", bidi=True)


def special_status_message(stubs):
    echoes_status(stubs, SPECIAL_MESSAGE, bidi=False)


def unimplemented_method(stubs):
    error = failed_call(lambda: stubs.test.UnimplementedCall(empty.Empty(), timeout=CALL_TIMEOUT))
    check_status("TestService/UnimplementedCall", error, grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(stubs):
    error = failed_call(lambda: stubs.unimplemented.UnimplementedCall(empty.Empty(), timeout=CALL_TIMEOUT))
    check_status("UnimplementedService/UnimplementedCall", error, grpc.StatusCode.UNIMPLEMENTED)


def cancel_after_begin(stubs):
    pipe = Pipe()
    call = stubs.test.StreamingInputCall.future(pipe, timeout=CALL_TIMEOUT)
    ensure(not call.done(), "StreamingInputCall ended before the client cancelled it")
    call.cancel()
    pipe.close()
    ensure(call.code() == grpc.StatusCode.CANCELLED, f"StreamingInputCall ended {call.code().name}, want CANCELLED")


def cancel_after_first_response(stubs):
    pipe = Pipe()
    responses = stubs.test.FullDuplexCall(pipe, timeout=CALL_TIMEOUT)
    pipe.add(output_request([31415], 27182))
    response = next(responses, None)
    ensure(response is not None, "FullDuplexCall ended before its first response")
    check_payload("FullDuplexCall's first response", response.payload, 31415)
    responses.cancel()
    pipe.close()
    error = failed_call(lambda: next(responses))
    check_status("FullDuplexCall", error, grpc.StatusCode.CANCELLED)


def timeout_on_sleeping_server(stubs):
    pipe = Pipe()
    responses = stubs.test.FullDuplexCall(pipe, timeout=0.001)
    pipe.add(output_request([], 27182))
    try:
        error = failed_call(lambda: list(responses))
    finally:
        pipe.close()
    check_status("FullDuplexCall", error, grpc.StatusCode.DEADLINE_EXCEEDED)


CASES = [
    empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream,
    custom_metadata, status_code_and_message, special_status_message, unimplemented_method,
    unimplemented_service, cancel_after_begin, cancel_after_first_response,
    timeout_on_sleeping_server,
]


def channel(args):
    target = f"{args.server_host}:{args.server_port}"
    options = []
    if args.server_host_override:
        options.append(("grpc.ssl_target_name_override", args.server_host_override))
        options.append(("grpc.default_authority", args.server_host_override))
    if not args.use_tls:
        return grpc.insecure_channel(target, options=options)
    root = None
    if args.use_test_ca:
        with open(args.ca_file, "rb") as ca:
            root = ca.read()
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root), options=options)


def main():
    names = [case.__name__ for case in CASES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server_host", default="localhost")
    parser.add_argument("--server_port", type=int, default=10000)
    parser.add_argument("--server_host_override", metavar="HOSTNAME")
    parser.add_argument("--test_case", default="large_unary", choices=names + ["all"])
    common.add_boolean_flag(parser, "use_tls", "connect over TLS")
    common.add_boolean_flag(parser, "use_test_ca", "trust --ca_file instead of the system roots")
    parser.add_argument("--ca_file", metavar="FILE")
    args = parser.parse_args()
    if not args.use_tls and (args.use_test_ca or args.ca_file):
        parser.error("--use_test_ca and --ca_file are only used with --use_tls=true")
    if args.use_test_ca != bool(args.ca_file):
        parser.error("--use_test_ca and --ca_file go together (no test CA is built in)")

    with channel(args) as chan:
        try:
            grpc.channel_ready_future(chan).result(timeout=CALL_TIMEOUT)
        except grpc.FutureTimeoutError:
            sys.exit(f"interop client (python): cannot connect to {args.server_host}:{args.server_port}")
        stubs = Stubs(services.TestServiceStub(chan), services.UnimplementedServiceStub(chan))
        failed = []
        for case in CASES if args.test_case == "all" else [CASES[names.index(args.test_case)]]:
            started = time.monotonic()
            try:
                case(stubs)
            except (Failure, grpc.RpcError) as error:
                if isinstance(error, grpc.RpcError):
                    error = f"call failed: {error.code().name}: {error.details()!r}"
                print(f"FAIL {case.__name__}: {error}", file=sys.stderr, flush=True)
                failed.append(case.__name__)
            else:
                print(f"PASS {case.__name__} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)
    if failed:
        sys.exit(f"interop client (python): {len(failed)} failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
