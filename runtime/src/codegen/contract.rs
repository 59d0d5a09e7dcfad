//! What a generated per-method `Error` enum calls: building its statuses and reading them back.

use std::fmt;

use tonic::{Code, Status};

use crate::status::{Detail, Details};

/// A status with `code`, `message` and `detail` as its one google.rpc detail.
pub fn status<D: Detail>(code: Code, message: String, detail: D) -> Status {
    Details::new().with(detail).into_status(code, message)
}

/// The message and detail of `status` when it has `code` and a `D` detail that decodes.
pub fn detail<D: Detail>(status: &Status, code: Code) -> Option<(String, D)> {
    if status.code() != code {
        return None;
    }
    let detail = Details::of(status).ok()?.get::<D>()?.ok()?;
    Some((status.message().to_owned(), detail))
}

/// The message of `status` when it has `code`.
pub fn code(status: &Status, code: Code) -> Option<String> {
    (status.code() == code).then(|| status.message().to_owned())
}

/// How an error shows: `ResourceExhausted: Request limit exceeded.`
pub fn display(f: &mut fmt::Formatter<'_>, code: Code, message: &str) -> fmt::Result {
    write!(f, "{code:?}: {message}")
}
