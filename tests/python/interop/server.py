"""gRPC's interop test server (grpc.testing.TestService) on grpcio, the peer of our client.

Flags as gRPC's interop spec: --port (0 picks a free one) and --use_tls, plus grpc-go's
--tls_cert_file/--tls_key_file (no test certificate is built in) and --bind_host. The startup
line on stdout names the port: `... listening on port N ...`.
"""

import argparse
import sys
import time
from concurrent import futures

import grpc

import common

messages, empty, services = common.load()

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
MAX_PAYLOAD_BYTES = 4 << 20
CODES = {code.value[0]: code for code in grpc.StatusCode}


def echo_metadata(context, headers=()):
    """Sends back the echo keys: the text one as initial metadata (with `headers`), the binary
    one as trailers."""
    received = context.invocation_metadata()
    context.send_initial_metadata([(k, v) for k, v in received if k == ECHO_INITIAL] + list(headers))
    context.set_trailing_metadata([(k, v) for k, v in received if k == ECHO_TRAILING])


def echo_status(request, context):
    """Ends the call with the status the request asks for; False when it asks for none."""
    if not request.HasField("response_status") or request.response_status.code == 0:
        return False
    code = CODES.get(request.response_status.code, grpc.StatusCode.UNKNOWN)
    context.abort(code, request.response_status.message)


def payload(response_type, size, context):
    if response_type != messages.COMPRESSABLE:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported response_type {response_type}")
    if not 0 <= size <= MAX_PAYLOAD_BYTES:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"response size {size} out of range")
    return messages.Payload(type=messages.COMPRESSABLE, body=bytes(size))


def responses_for(request, context):
    for parameters in request.response_parameters:
        if parameters.interval_us < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "negative interval_us")
        if parameters.interval_us:
            time.sleep(parameters.interval_us / 1e6)
        body = payload(request.response_type, parameters.size, context)
        yield messages.StreamingOutputCallResponse(payload=body)


class TestService(services.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        echo_status(request, context)
        body = payload(request.response_type, request.response_size, context)
        return messages.SimpleResponse(payload=body)

    def CacheableUnaryCall(self, request, context):
        echo_metadata(context, [("cache-control", "max-age=60")])
        body = str(time.time_ns()).encode()
        return messages.SimpleResponse(payload=messages.Payload(body=body))

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        echo_status(request, context)
        yield from responses_for(request, context)

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = sum(len(request.payload.body) for request in request_iterator)
        return messages.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in request_iterator:
            echo_status(request, context)
            yield from responses_for(request, context)

    def HalfDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        requests = list(request_iterator)
        for request in requests:
            echo_status(request, context)
            yield from responses_for(request, context)

    # UnimplementedCall is left to the generated servicer base: UNIMPLEMENTED.


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument("--bind_host", default="0.0.0.0")
    common.add_boolean_flag(parser, "use_tls", "serve TLS (needs the two files)")
    parser.add_argument("--tls_cert_file", metavar="FILE")
    parser.add_argument("--tls_key_file", metavar="FILE")
    args = parser.parse_args()

    files = (args.tls_cert_file, args.tls_key_file)
    if args.use_tls and None in files:
        parser.error("--use_tls needs --tls_cert_file and --tls_key_file")
    if not args.use_tls and files != (None, None):
        parser.error("--tls_cert_file and --tls_key_file are only used with --use_tls=true")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    services.add_TestServiceServicer_to_server(TestService(), server)
    address = f"{args.bind_host}:{args.port}"
    if args.use_tls:
        with open(args.tls_cert_file, "rb") as cert, open(args.tls_key_file, "rb") as key:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        sys.exit(f"interop server (python): cannot listen on {address}")
    server.start()
    security = "TLS" if args.use_tls else "plaintext"
    print(f"interop server (python): listening on port {port} of {args.bind_host} ({security})", flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=1)


if __name__ == "__main__":
    main()
