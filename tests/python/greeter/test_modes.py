"""The Greeter in all four modes: the exact replies of DESIGN.md, the `location` header, and the
`timestamp` trailer where the proto declares it (SayHello, BidiHello)."""

import queue

import grpc
from greeter.v1.greeter_pb2 import HelloRequest

from support import CALL_TIMEOUT, Clock, assert_location_header, values


def test_say_hello_greets_with_location_header_and_timestamp_trailer(stub, auth):
    with Clock() as clock:
        response, call = stub.SayHello.with_call(
            HelloRequest(name="Tom"), metadata=auth, timeout=CALL_TIMEOUT
        )
    assert response.reply == "Hello Tom"
    assert call.code() == grpc.StatusCode.OK
    assert_location_header(call)
    clock.assert_timestamp_trailer(call)


def test_say_hello_carries_any_name_unchanged(stub, auth):
    name = "张三 O'Brien ✓"
    response, _ = stub.SayHello.with_call(
        HelloRequest(name=name), metadata=auth, timeout=CALL_TIMEOUT
    )
    assert response.reply == f"Hello {name}"


def test_lots_of_replies_greets_in_four_languages_in_order(stub, auth):
    call = stub.LotsOfReplies(HelloRequest(name="Ann"), metadata=auth, timeout=CALL_TIMEOUT)
    replies = [response.reply for response in call]
    assert replies == ["你好Ann", "helloAnn", "こんにちはAnn", "안녕하세요Ann"]
    assert call.code() == grpc.StatusCode.OK
    assert_location_header(call)
    # The proto declares no trailer for LotsOfReplies.
    assert values(call.trailing_metadata(), "timestamp") == []


def test_lots_of_greetings_replies_once_with_every_name(stub, auth):
    names = ["张三", "李四", "王五"]
    response, call = stub.LotsOfGreetings.with_call(
        iter([HelloRequest(name=name) for name in names]), metadata=auth, timeout=CALL_TIMEOUT
    )
    assert response.reply == "你好：张三李四王五"
    assert_location_header(call)


def test_lots_of_greetings_with_no_names(stub, auth):
    response, _ = stub.LotsOfGreetings.with_call(iter([]), metadata=auth, timeout=CALL_TIMEOUT)
    assert response.reply == "你好："


def test_bidi_hello_answers_each_message_before_the_next_is_sent(stub, auth):
    """Each request is sent only after the previous reply arrived: a server that waits for
    the end of the requests stalls this until the deadline and fails it."""
    exchanges = [
        ("你好吗？", "我好!"),
        ("在吗?", "在!"),
        ("能听懂汉语吗？", "能听懂汉语!"),
        ("走吧", "走"),
        ("plain text", "plain text"),
    ]
    outbox = queue.Queue()

    def requests():
        while (text := outbox.get(timeout=CALL_TIMEOUT)) is not None:
            yield HelloRequest(name=text)

    with Clock() as clock:
        call = stub.BidiHello(requests(), metadata=auth, timeout=CALL_TIMEOUT)
        try:
            for text, answer in exchanges:
                outbox.put(text)
                assert next(call).reply == answer, f"reply to {text!r}"
        finally:
            outbox.put(None)
        assert list(call) == [], "replies after the requests ended"
    assert call.code() == grpc.StatusCode.OK
    assert_location_header(call)
    clock.assert_timestamp_trailer(call)
