"""gRPC health as grpcio-health-checking's stubs see it: no token needed, the Greeter and the
server as a whole SERVING."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import CALL_TIMEOUT

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def health(channel):
    return health_pb2_grpc.HealthStub(channel)


@pytest.mark.parametrize("service", ["greeter.v1.Greeter", ""])
def test_check_reports_serving(health, service):
    response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT)
    assert response.status == SERVING, health_pb2.HealthCheckResponse.ServingStatus.Name(
        response.status
    )


def test_check_of_an_unknown_service_is_not_found(health):
    with pytest.raises(grpc.RpcError) as raised:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=CALL_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_watch_starts_with_serving(health):
    watch = health.Watch(
        health_pb2.HealthCheckRequest(service="greeter.v1.Greeter"), timeout=CALL_TIMEOUT
    )
    try:
        assert next(watch).status == SERVING
    finally:
        watch.cancel()
