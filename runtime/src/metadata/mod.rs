//! Metadata: typed keys and the codecs of their values, and the response trailers a successful
//! call can carry.

pub mod codec;
mod key;
mod trailers;

pub use key::{InvalidKey, Key, MetadataError};
pub(crate) use trailers::merge_trailers;
pub use trailers::{ResponseExt, ResponseTrailers};

#[cfg(test)]
mod properties;
