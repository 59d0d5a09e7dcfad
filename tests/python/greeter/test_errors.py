"""The Greeter's errors as grpcio sees them: the quota's RESOURCE_EXHAUSTED with its
google.rpc.QuotaFailure detail (decoded by grpcio-status), UNAUTHENTICATED without the token in
every mode, INVALID_ARGUMENT for a malformed declared `request-id`."""

import grpc
import pytest
from google.rpc import error_details_pb2
from greeter.v1.greeter_pb2 import HelloRequest
from grpc_status import rpc_status

from support import CALL_TIMEOUT, QUOTA, QUOTA_EXCEEDED, Clock, assert_location_header

MODES = ["SayHello", "LotsOfReplies", "LotsOfGreetings", "BidiHello"]


def call_failing(stub, mode, name, metadata):
    """One call of `mode` that must fail: returns grpcio's error (the call, with its status,
    details and trailers)."""
    method = getattr(stub, mode)
    request = HelloRequest(name=name)
    with pytest.raises(grpc.RpcError) as raised:
        if mode in ("SayHello", "LotsOfReplies"):
            result = method(request, metadata=metadata, timeout=CALL_TIMEOUT)
        else:
            result = method(iter([request]), metadata=metadata, timeout=CALL_TIMEOUT)
        if mode in ("LotsOfReplies", "BidiHello"):
            list(result)
    return raised.value


def test_say_hello_beyond_the_quota_is_resource_exhausted_with_quota_failure(stub, auth):
    name = "Quota Jerry"
    for _ in range(QUOTA):
        response, _ = stub.SayHello.with_call(
            HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT
        )
        assert response.reply == f"Hello {name}"

    with Clock() as clock:
        error = call_failing(stub, "SayHello", name, auth)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == QUOTA_EXCEEDED

    # grpc-status-details-bin, as grpcio-status decodes it (it checks that the code and the
    # message agree with grpc-status and grpc-message, and raises otherwise).
    status = rpc_status.from_call(error)
    assert status is not None, f"no status details; trailers: {error.trailing_metadata()}"
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert status.message == QUOTA_EXCEEDED
    assert [detail.type_url for detail in status.details] == [
        "type.googleapis.com/google.rpc.QuotaFailure"
    ]
    quota_failure = error_details_pb2.QuotaFailure()
    assert status.details[0].Unpack(quota_failure)
    assert [violation.subject for violation in quota_failure.violations] == [f"name:{name}"]
    assert quota_failure.violations[0].description, "the violation says what the limit is"

    # The declared `timestamp` trailer comes with the error too.
    clock.assert_timestamp_trailer(error)


def test_each_name_has_its_own_quota(stub, auth):
    for name in ["Quota Ann", "Quota Bob"]:
        response, _ = stub.SayHello.with_call(
            HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT
        )
        assert response.reply == f"Hello {name}"


def test_the_quota_counts_say_hello_only(stub, auth):
    name = "Quota Tom"
    for _ in range(QUOTA):
        stub.SayHello(HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT)
    for _ in range(QUOTA + 1):
        call = stub.LotsOfReplies(HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT)
        assert [response.reply for response in call] == [
            f"{hello}{name}" for hello in ["你好", "hello", "こんにちは", "안녕하세요"]
        ]


@pytest.mark.parametrize("mode", MODES)
def test_a_call_without_token_is_unauthenticated(stub, mode):
    error = call_failing(stub, mode, f"No token {mode}", ())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert error.details(), "the status says what is wrong"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-the-token", "Bearer ", "Basic dXNlcjpwYXNz", "not-even-a-scheme"],
)
def test_a_call_with_a_wrong_token_is_unauthenticated(stub, mode, authorization):
    error = call_failing(stub, mode, f"Wrong token {mode}", (("authorization", authorization),))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()


def test_auth_refuses_before_the_handler_runs(stub, auth):
    """A refused SayHello does not reach the handler, so it uses none of the name's quota."""
    name = "Refused Tom"
    for _ in range(QUOTA + 1):
        error = call_failing(stub, "SayHello", name, ())
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    response, _ = stub.SayHello.with_call(
        HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT
    )
    assert response.reply == f"Hello {name}"


@pytest.mark.parametrize("request_id", ["abc", "12x", "1.5", "", "99999999999999999999"])
def test_a_malformed_request_id_is_invalid_argument_naming_the_key(stub, auth, request_id):
    error = call_failing(
        stub, "SayHello", f"Bad id {request_id}", auth + (("request-id", request_id),)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(
        f'invalid metadata `request-id`: expected int64, got "{request_id}"'
    ), error.details()


def test_the_malformed_request_id_abc_has_the_documented_message(stub, auth):
    """The message the README shows for this case, word for word."""
    error = call_failing(stub, "SayHello", "Bad id text", auth + (("request-id", "abc"),))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        'invalid metadata `request-id`: expected int64, got "abc" (invalid digit found in string)'
    )


def test_a_malformed_request_id_is_refused_before_the_handler_runs(stub, auth):
    name = "Bad id Tom"
    for _ in range(QUOTA + 1):
        error = call_failing(stub, "SayHello", name, auth + (("request-id", "abc"),))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    response, _ = stub.SayHello.with_call(
        HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT
    )
    assert response.reply == f"Hello {name}"


@pytest.mark.parametrize("request_id", ["42", "-7", "9223372036854775807"])
def test_a_well_formed_request_id_is_accepted(stub, auth, request_id):
    name = f"Good id {request_id}"
    response, call = stub.SayHello.with_call(
        HelloRequest(name=name),
        metadata=auth + (("request-id", request_id), ("client-os", "python")),
        timeout=CALL_TIMEOUT,
    )
    assert response.reply == f"Hello {name}"
    assert_location_header(call)
