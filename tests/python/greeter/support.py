"""What the Greeter tests share: limits, the server's documented behaviour, metadata checks."""

import time

# Every call is bounded: a server that hangs fails the test instead of blocking CI.
CALL_TIMEOUT = 10.0

# SayHello calls allowed per name: the suite's server runs with --quota 1.
QUOTA = 1

# The server's `location` header when --location is not given (DESIGN.md).
DEFAULT_LOCATION = "BeiJing"

# The status message of SayHello once a name has used its quota (DESIGN.md).
QUOTA_EXCEEDED = "Request limit exceeded."


def values(metadata, key):
    """Every value of `key` in grpcio's metadata (a sequence of (key, value) pairs)."""
    return [value for name, value in (metadata or ()) if name == key]


def assert_location_header(call):
    """The response headers carry `location` once, the default; the trailers do not."""
    assert values(call.initial_metadata(), "location") == [DEFAULT_LOCATION], (
        f"headers: {call.initial_metadata()}"
    )
    assert values(call.trailing_metadata(), "location") == [], (
        f"trailers: {call.trailing_metadata()}"
    )


class Clock:
    """Unix seconds around a call: the `timestamp` trailer must fall between them."""

    def __enter__(self):
        self.before = int(time.time())
        return self

    def __exit__(self, *_):
        # Whole seconds, truncated, as the server's (same machine, same clock).
        self.after = int(time.time())

    def assert_timestamp_trailer(self, call):
        """The trailers carry `timestamp` once, unix seconds within the call; the headers
        do not."""
        trailers = call.trailing_metadata()
        stamps = values(trailers, "timestamp")
        assert len(stamps) == 1, f"one timestamp trailer expected, trailers: {trailers}"
        assert stamps[0].isdigit(), f"timestamp is not unix seconds: {stamps[0]!r}"
        assert self.before <= int(stamps[0]) <= self.after, (
            f"timestamp {stamps[0]} outside the call ({self.before}..{self.after})"
        )
        assert values(call.initial_metadata(), "timestamp") == [], (
            f"headers: {call.initial_metadata()}"
        )
