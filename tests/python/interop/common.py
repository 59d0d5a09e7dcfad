"""What both interop peers share: the grpc.testing stubs, generated at run time from the
workspace's proto/grpc/testing, and the parsing of gRPC's BOOLEAN flags.

The stubs: grpcio-tools writes them into a temporary directory as the package `grpc.testing`,
which the installed `grpc` package does not have: the directory is added to `grpc.__path__`, so
`from grpc.testing import test_pb2` finds the generated modules beside grpcio's own. Once they
are imported the directory is removed (a peer killed by its test leaves nothing behind).
"""

import os
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))
PROTOS = ["grpc/testing/empty.proto", "grpc/testing/messages.proto", "grpc/testing/test.proto"]


def load():
    """Generates the stubs and returns the modules (messages_pb2, empty_pb2, test_pb2_grpc)."""
    out = tempfile.mkdtemp(prefix="interop-stubs-")
    try:
        return generate_and_import(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def generate_and_import(out):
    status = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + [os.path.join(PROTO_ROOT, proto) for proto in PROTOS]
    )
    if status != 0:
        raise SystemExit(f"grpc_tools.protoc failed ({status}) on {PROTOS} under {PROTO_ROOT}")
    open(os.path.join(out, "grpc", "testing", "__init__.py"), "w").close()
    # Imported without writing bytecode next to them, and found only while they are there.
    grpc.__path__.append(os.path.join(out, "grpc"))
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc
    finally:
        sys.dont_write_bytecode = writes_bytecode
        grpc.__path__.remove(os.path.join(out, "grpc"))
    return messages_pb2, empty_pb2, test_pb2_grpc


def boolean(text):
    """A gRPC interop BOOLEAN flag value: true/false (also 1/0, yes/no)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def add_boolean_flag(parser, name, help):
    """`--name`, `--name=true`, `--name false`: a BOOLEAN flag as gRPC's interop binaries take."""
    parser.add_argument(
        f"--{name}", type=boolean, nargs="?", const=True, default=False, metavar="BOOLEAN", help=help
    )
