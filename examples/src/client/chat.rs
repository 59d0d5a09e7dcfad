//! The interactive `bidi` command: lines go out as they are typed, answers are printed as they
//! come, and a server that stops answering is noticed without putting a deadline on the person
//! typing.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use super::{GreeterClient, bidi, report, write_lines};

/// Chats over `BidiHello`: sends each of `lines` as it comes and writes the response headers,
/// `AI：<reply>` for each answer the moment it arrives, then the trailers.
///
/// A chat lasts as long as `lines` does, so a whole-call deadline does not fit it; instead
/// `answer_timeout` is the time the server has to answer each line (the Greeter answers every
/// line), and to end the call once `lines` has ended. Past it the call is cancelled and ends
/// DEADLINE_EXCEEDED. With `None` the chat waits for the server for ever. Use a `client` without
/// a default call deadline (see [`with_credentials`](super::with_credentials)), or that deadline
/// ends the chat too.
///
/// Returns the status the call failed with, if it did; only a failure to write to `out` is the
/// outer `Err`.
pub async fn chat(
    client: &mut GreeterClient,
    lines: impl Stream<Item = String> + Send + 'static,
    answer_timeout: Option<Duration>,
    out: &mut impl Write,
) -> io::Result<Result<(), Status>> {
    let waiting = Arc::new(Waiting::default());
    let (on_send, on_end) = (Arc::clone(&waiting), Arc::clone(&waiting));
    let lines = lines
        .map(move |line| {
            on_send.sent();
            line
        })
        // Polled once `lines` has ended: from then on the server has to end the call.
        .chain(tokio_stream::iter(std::iter::from_fn(move || {
            on_end.input_ended();
            None
        })));

    let conversation = async {
        let mut replies = bidi(client, lines).await.map_err(Ended::Call)?;
        write_lines(out, &report::describe_metadata("header", replies.headers()))?;
        out.flush()?;
        while let Some(reply) = replies.next().await.map_err(Ended::Call)? {
            waiting.answered();
            writeln!(out, "AI：{reply}")?;
            out.flush()?;
        }
        let trailers = replies.trailers().await.map_err(Ended::Call)?;
        write_lines(out, &report::describe_metadata("trailer", &trailers))?;
        out.flush()?;
        Ok::<(), Ended>(())
    };
    let overdue = async {
        match answer_timeout {
            Some(timeout) => waiting.overdue(timeout).await,
            None => std::future::pending().await,
        }
    };
    // Dropping the conversation cancels the call (the server sees the stream reset).
    let ended = tokio::select! {
        ended = conversation => ended,
        status = overdue => Err(Ended::Call(status)),
    };
    match ended {
        Ok(()) => Ok(Ok(())),
        Err(Ended::Call(status)) => Ok(Err(status)),
        Err(Ended::Output(error)) => Err(error),
    }
}

/// How a chat ended early.
enum Ended {
    Call(Status),
    Output(io::Error),
}

impl From<io::Error> for Ended {
    fn from(error: io::Error) -> Self {
        Self::Output(error)
    }
}

/// What the chat waits for from the server: an answer to each line sent, in order, and the end
/// of the call once the input has ended.
#[derive(Debug, Default)]
struct Waiting {
    state: Mutex<WaitState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct WaitState {
    /// When each line not answered yet was sent, oldest first.
    unanswered: VecDeque<Instant>,
    /// When the input ended, if it has.
    input_ended: Option<Instant>,
}

impl Waiting {
    fn update(&self, change: impl FnOnce(&mut WaitState)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        // A stored permit if the watcher is not waiting yet: no change goes unnoticed.
        self.changed.notify_one();
    }

    fn sent(&self) {
        self.update(|state| state.unanswered.push_back(Instant::now()));
    }

    fn answered(&self) {
        self.update(|state| {
            state.unanswered.pop_front();
        });
    }

    fn input_ended(&self) {
        self.update(|state| state.input_ended = Some(Instant::now()));
    }

    /// When the server is late with `timeout`, and the status that says so: `timeout` after the
    /// oldest unanswered line, or, every line answered, after the input ended.
    fn due(&self, timeout: Duration) -> Option<(Instant, Status)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sent) = state.unanswered.front() {
            let message = format!("no answer within {timeout:?} to a line sent");
            return Some((*sent + timeout, Status::deadline_exceeded(message)));
        }
        state.input_ended.map(|ended| {
            let message = format!("the call did not end within {timeout:?} of the end of input");
            (ended + timeout, Status::deadline_exceeded(message))
        })
    }

    /// Completes with DEADLINE_EXCEEDED once the server is late (see [`due`](Self::due)).
    async fn overdue(&self, timeout: Duration) -> Status {
        loop {
            let changed = self.changed.notified();
            match self.due(timeout) {
                None => changed.await,
                Some((at, status)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => return status,
                        () = changed => {}
                    }
                }
            }
        }
    }
}
