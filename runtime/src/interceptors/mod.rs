//! Standard interceptors: one file per concern.

mod auth;
mod credentials;

pub use auth::BearerAuth;
pub use credentials::{BearerToken, InvalidMetadata, StaticMetadata};
