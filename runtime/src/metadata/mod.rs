//! Metadata plumbing: response trailers that a successful call can carry.

mod trailers;

pub(crate) use trailers::merge_trailers;
pub use trailers::{ResponseExt, ResponseTrailers};
