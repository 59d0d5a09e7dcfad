//! What one run measures: the server variants, the streaming modes, and the order in which the
//! rounds visit them.

use std::fmt;

/// One way of serving the same Greeter handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Variant {
    /// (a) Plain tonic: the server tonic-prost-build 0.14 generates.
    #[value(name = "tonic", alias = "a")]
    Tonic,
    /// (b) Our generated server, no interceptors.
    #[value(name = "greeter", alias = "b")]
    Greeter,
    /// (c) Our generated server with the standard chain: recovery, logging, auth, validation.
    #[value(name = "greeter-chain", alias = "c")]
    GreeterChain,
    /// (d) (a) inside tonic's `InterceptedService` with one bearer-token interceptor.
    #[value(name = "tonic-intercepted", alias = "d")]
    TonicIntercepted,
    /// (e) A minimal hyper HTTP/2 server speaking gRPC framing by hand: the floor.
    #[value(name = "floor", alias = "e")]
    Floor,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Variant::Tonic,
        Variant::Greeter,
        Variant::GreeterChain,
        Variant::TonicIntercepted,
        Variant::Floor,
    ];

    /// The letter the issue gives the variant, `(a)` to `(e)`.
    pub fn letter(self) -> char {
        match self {
            Variant::Tonic => 'a',
            Variant::Greeter => 'b',
            Variant::GreeterChain => 'c',
            Variant::TonicIntercepted => 'd',
            Variant::Floor => 'e',
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Variant::Tonic => "plain tonic",
            Variant::Greeter => "greeter, no interceptors",
            Variant::GreeterChain => "greeter, standard chain",
            Variant::TonicIntercepted => "tonic InterceptedService",
            Variant::Floor => "hyper h2 floor",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}) {}", self.letter(), self.label())
    }
}

/// One of the Greeter's four methods, one per gRPC streaming kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Mode {
    /// SayHello: one request, one reply.
    #[value(name = "unary")]
    Unary,
    /// LotsOfReplies: one request, four replies.
    #[value(name = "server-streaming", alias = "server")]
    ServerStreaming,
    /// LotsOfGreetings: a stream of requests, one reply.
    #[value(name = "client-streaming", alias = "client")]
    ClientStreaming,
    /// BidiHello: one reply per request.
    #[value(name = "bidi")]
    Bidi,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::Unary,
        Mode::ServerStreaming,
        Mode::ClientStreaming,
        Mode::Bidi,
    ];

    pub fn method(self) -> &'static str {
        match self {
            Mode::Unary => "SayHello",
            Mode::ServerStreaming => "LotsOfReplies",
            Mode::ClientStreaming => "LotsOfGreetings",
            Mode::Bidi => "BidiHello",
        }
    }

    /// What the mode's throughput counts: calls for unary, streamed messages otherwise.
    pub fn unit(self) -> &'static str {
        match self {
            Mode::Unary => "calls",
            _ => "messages",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Mode::Unary => "unary",
            Mode::ServerStreaming => "server streaming",
            Mode::ClientStreaming => "client streaming",
            Mode::Bidi => "bidi streaming",
        };
        write!(f, "{name} ({})", self.method())
    }
}

/// `items` rotated left by `round`: over `items.len()` rounds every item takes every position
/// once, so no variant is always the first after a pause or always the last of a warm machine.
pub fn rotated<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    let n = items.len();
    (0..n).map(|i| items[(i + round) % n]).collect()
}

/// The (mode, variant) windows of one round, in the order they run: modes and variants both
/// rotated by the round number, every pair exactly once.
pub fn schedule(round: usize, modes: &[Mode], variants: &[Variant]) -> Vec<(Mode, Variant)> {
    rotated(modes, round)
        .into_iter()
        .flat_map(|mode| {
            rotated(variants, round)
                .into_iter()
                .map(move |variant| (mode, variant))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_puts_every_item_in_every_position_once() {
        let items = Variant::ALL;
        let rounds: Vec<Vec<Variant>> = (0..items.len()).map(|r| rotated(&items, r)).collect();
        assert_eq!(rounds[0], items);
        assert_eq!(rounds[1][0], Variant::Greeter);
        assert_eq!(rounds[1][4], Variant::Tonic);
        for position in 0..items.len() {
            let mut seen: Vec<Variant> = rounds.iter().map(|round| round[position]).collect();
            seen.sort();
            assert_eq!(seen, items, "position {position}");
        }
        // The cycle repeats after `len` rounds.
        assert_eq!(rotated(&items, items.len() + 2), rotated(&items, 2));
    }

    #[test]
    fn a_round_visits_every_pair_once_in_rotated_order() {
        let modes = [Mode::Unary, Mode::Bidi];
        let variants = [Variant::Tonic, Variant::Greeter, Variant::Floor];
        let round = schedule(1, &modes, &variants);
        assert_eq!(round.len(), 6);
        assert_eq!(round[0], (Mode::Bidi, Variant::Greeter));
        assert_eq!(round[2], (Mode::Bidi, Variant::Tonic));
        assert_eq!(round[3], (Mode::Unary, Variant::Greeter));
        let mut pairs = round.clone();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 6);
        assert_ne!(schedule(0, &modes, &variants), round);
    }
}
