"""The Greeter example server as a foreign gRPC stack (grpcio, Python's C-core) meets it.

At session start the Python stubs of proto/greeter/v1/greeter.proto (and of the options proto it
imports, greeter/options.proto, which lives beside it under proto/) are generated with
grpc_tools.protoc into a temporary directory, imported as the package `greeter`, and the directory
is removed. Then one `greeter-server` is started on a free loopback port with a random token and
`--quota 1`; it is stopped with SIGINT (its ctrl-c) at the end, and must exit 0.

The server binary is named by GREETER_SERVER (run.sh builds it with cargo and sets it).
"""

import collections
import ctypes
import importlib.resources
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pytest
from grpc_tools import protoc

from support import CALL_TIMEOUT, QUOTA

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))
PROTOS = ["greeter/options.proto", "greeter/v1/greeter.proto"]

STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0


def pytest_configure(config):
    """Generates and imports the stubs before the test modules import them."""
    out = tempfile.mkdtemp(prefix="greeter-stubs-")
    try:
        well_known = str(importlib.resources.files("grpc_tools") / "_proto")
        status = protoc.main(
            ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}"]
            + [f"--python_out={out}", f"--grpc_python_out={out}"]
            + PROTOS
        )
        if status != 0:
            raise pytest.UsageError(
                f"grpc_tools.protoc failed ({status}) on {PROTOS} under {PROTO_ROOT}"
            )
        # Imported once, without bytecode beside them; the modules stay in sys.modules after the
        # directory is gone, so a killed run leaves nothing behind.
        sys.path.insert(0, out)
        writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            import greeter.options_pb2  # noqa: F401
            import greeter.v1.greeter_pb2  # noqa: F401
            import greeter.v1.greeter_pb2_grpc  # noqa: F401
        finally:
            sys.dont_write_bytecode = writes_bytecode
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def die_with_parent():
    """In the server's process before exec: Linux kills it when pytest goes, however pytest
    goes (a timeout's SIGKILL included), so no server outlives its run."""
    PR_SET_PDEATHSIG = 1
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running greeter-server: its address, token and log."""

    def __init__(self, binary, log_dir):
        self.token = secrets.token_hex(16)
        self.address = f"127.0.0.1:{free_port()}"
        self.log_path = os.path.join(log_dir, "greeter-server.log")
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, GREETER_TOKEN=self.token, NO_COLOR="1")
        # The token goes through GREETER_TOKEN (DESIGN.md's `--token`, env `GREETER_TOKEN`),
        # which also keeps it out of the process list.
        self.process = subprocess.Popen(
            [binary, "--addr", self.address, "--quota", str(QUOTA)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent,
        )

    def log(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def wait_until_accepting(self):
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            status = self.process.poll()
            if status is not None:
                raise RuntimeError(
                    f"greeter-server exited ({status}) before accepting on {self.address}\n"
                    f"--- its log\n{self.log()}"
                )
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"greeter-server did not accept on {self.address} within "
                    f"{STARTUP_TIMEOUT} s\n--- its log\n{self.log()}"
                )
            time.sleep(0.05)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def stop(self):
        """SIGINT, as ctrl-c: the server finishes its calls and exits 0."""
        try:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"greeter-server died during the tests ({self.process.returncode})\n"
                    f"--- its log\n{self.log()}"
                )
            self.process.send_signal(signal.SIGINT)
            try:
                status = self.process.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"greeter-server did not stop within {SHUTDOWN_TIMEOUT} s of SIGINT\n"
                    f"--- its log\n{self.log()}"
                ) from None
            assert status == 0, f"greeter-server exited {status} on SIGINT\n{self.log()}"
        finally:
            self.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    binary = os.environ.get("GREETER_SERVER")
    if not binary:
        raise pytest.UsageError(
            "GREETER_SERVER must name the greeter-server binary; "
            "tests/python/greeter/run.sh builds it and runs this suite"
        )
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(f"GREETER_SERVER={binary} is not an executable file")
    running = Server(binary, str(tmp_path_factory.mktemp("server")))
    try:
        running.wait_until_accepting()
    except RuntimeError as error:
        running.kill()
        # Every test needs the server: one clear message rather than the same error per test.
        pytest.exit(str(error), returncode=pytest.ExitCode.TESTS_FAILED)
    try:
        yield running
    finally:
        running.stop()


class CallDetails(
    collections.namedtuple(
        "CallDetails",
        ["method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"],
    ),
    grpc.ClientCallDetails,
):
    pass


class DefaultDeadline(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Gives every call that has no deadline CALL_TIMEOUT: grpcio-reflection's and
    grpcio-health-checking's own calls set none, and a hung server must fail the test."""

    @staticmethod
    def _bounded(details):
        if details.timeout is not None:
            return details
        return CallDetails(
            details.method,
            CALL_TIMEOUT,
            details.metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._bounded(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._bounded(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._bounded(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._bounded(details), requests)


@pytest.fixture(scope="session")
def channel(server):
    """One channel for the session; every call on it has a deadline."""
    with grpc.insecure_channel(server.address) as opened:
        grpc.channel_ready_future(opened).result(timeout=CALL_TIMEOUT)
        yield grpc.intercept_channel(opened, DefaultDeadline())


@pytest.fixture(scope="session")
def stub(channel):
    from greeter.v1 import greeter_pb2_grpc

    return greeter_pb2_grpc.GreeterStub(channel)


@pytest.fixture(scope="session")
def auth(server):
    """The request metadata every Greeter call needs."""
    return (("authorization", f"Bearer {server.token}"),)


@pytest.fixture(autouse=True)
def show_server_log(server):
    """Copies what the server logged during a test into the test's captured output, which
    pytest shows when the test fails."""
    offset = os.path.getsize(server.log_path)
    yield
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        sys.stdout.write(log.read().decode("utf-8", "replace"))
