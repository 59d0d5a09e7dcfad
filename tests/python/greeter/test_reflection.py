"""Server reflection as grpcio-reflection's client sees it (it speaks v1alpha): the services, and
the Greeter's file, methods and declared contracts, resolved by symbol through a
DescriptorPool; and v1 answering the same, through a raw call."""

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from greeter import options_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from support import CALL_TIMEOUT

GREETER = "greeter.v1.Greeter"
GREETER_FILE = "greeter/v1/greeter.proto"
# Name, client streaming, server streaming: the proto's order.
METHODS = [
    ("SayHello", False, False),
    ("LotsOfReplies", False, True),
    ("LotsOfGreetings", True, False),
    ("BidiHello", True, True),
]


@pytest.fixture(scope="module")
def reflection_db(channel):
    return ProtoReflectionDescriptorDatabase(channel)


@pytest.fixture(scope="module")
def pool(reflection_db):
    return descriptor_pool.DescriptorPool(reflection_db)


def test_lists_the_greeter_health_and_reflection(reflection_db):
    services = set(reflection_db.get_services())
    assert {GREETER, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= (
        services
    ), services


def test_finds_the_greeter_file_by_its_service(pool):
    greeter_file = pool.FindFileContainingSymbol(GREETER)
    assert greeter_file.name == GREETER_FILE
    assert greeter_file.package == "greeter.v1"
    assert [dependency.name for dependency in greeter_file.dependencies] == [
        "greeter/options.proto"
    ]
    assert sorted(greeter_file.services_by_name) == [GREETER.rsplit(".", 1)[1]]
    assert sorted(greeter_file.message_types_by_name) == ["HelloRequest", "HelloResponse"]


def test_the_greeter_has_its_four_methods(pool):
    service = pool.FindServiceByName(GREETER)
    found = [(m.name, m.client_streaming, m.server_streaming) for m in service.methods]
    assert found == METHODS
    for method in service.methods:
        assert method.input_type.full_name == "greeter.v1.HelloRequest"
        assert method.output_type.full_name == "greeter.v1.HelloResponse"


@pytest.mark.parametrize("name, client_streaming, server_streaming", METHODS)
def test_finds_each_method_by_symbol(pool, name, client_streaming, server_streaming):
    method = pool.FindMethodByName(f"{GREETER}.{name}")
    assert method.containing_service.full_name == GREETER
    assert (method.client_streaming, method.server_streaming) == (
        client_streaming,
        server_streaming,
    )


@pytest.mark.parametrize("name", [name for name, _, _ in METHODS])
def test_the_server_resolves_a_method_symbol_to_the_greeter_file(channel, name):
    """Asked by a fresh database, so the answer comes from the server, not a cache."""
    served = ProtoReflectionDescriptorDatabase(channel).FindFileContainingSymbol(
        f"{GREETER}.{name}"
    )
    assert served.name == GREETER_FILE
    assert [method.name for method in served.service[0].method] == [n for n, _, _ in METHODS]


def test_the_messages_resolve_by_symbol(pool):
    for message in ["HelloRequest", "HelloResponse"]:
        descriptor = pool.FindMessageTypeByName(f"greeter.v1.{message}")
        assert [(field.name, field.number) for field in descriptor.fields] == [
            ("name" if message == "HelloRequest" else "reply", 1)
        ]


def test_the_served_file_keeps_the_declared_contracts(pool):
    """A tool reading reflection sees the metadata and errors each method declares."""
    served = descriptor_pb2.FileDescriptorProto()
    pool.FindFileContainingSymbol(GREETER).CopyToProto(served)
    (service,) = served.service
    defaults = service.options.Extensions[options_pb2.defaults]
    assert [(m.key, m.required) for m in defaults.request] == [("client-os", False)]
    assert [(m.key, m.required) for m in defaults.header] == [("location", True)]
    say_hello = service.method[0].options.Extensions[options_pb2.contract]
    assert [m.key for m in say_hello.request] == ["request-id"]
    assert [(m.key, m.required) for m in say_hello.trailer] == [("timestamp", True)]
    assert [e.detail for e in say_hello.error] == ["google.rpc.QuotaFailure"]


def test_finds_health_by_symbol(pool):
    service = pool.FindServiceByName("grpc.health.v1.Health")
    assert [m.name for m in service.methods][:2] == ["Check", "Watch"]


def test_an_unknown_symbol_is_not_found(pool):
    """The reflection protocol answers NOT_FOUND as an ErrorResponse in the stream, which
    grpcio-reflection turns into KeyError; tonic-reflection ends the stream with a NOT_FOUND
    status instead, which reaches the caller as grpc.RpcError. Either is NOT_FOUND."""
    with pytest.raises((KeyError, grpc.RpcError)) as raised:
        pool.FindServiceByName("no.such.Service")
    if isinstance(raised.value, grpc.RpcError):
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND, raised.value


def test_v1_answers_list_services_like_v1alpha(channel, reflection_db):
    """grpc.reflection.v1 has the same messages on the wire as v1alpha."""
    info = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = list(info(iter([request]), timeout=CALL_TIMEOUT))
    listed = {service.name for service in response.list_services_response.service}
    assert {GREETER, "grpc.health.v1.Health"} <= listed, listed
    alpha = set(reflection_db.get_services())
    assert listed - {"grpc.reflection.v1.ServerReflection"} == alpha - {
        "grpc.reflection.v1alpha.ServerReflection"
    }


def test_v1_finds_the_greeter_file_by_symbol(channel):
    info = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=GREETER)
    (response,) = list(info(iter([request]), timeout=CALL_TIMEOUT))
    assert response.WhichOneof("message_response") == "file_descriptor_response", response
    names = []
    for encoded in response.file_descriptor_response.file_descriptor_proto:
        names.append(descriptor_pb2.FileDescriptorProto.FromString(encoded).name)
    assert GREETER_FILE in names, names
