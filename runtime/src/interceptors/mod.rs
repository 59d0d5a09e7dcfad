//! Standard interceptors: one file per concern.

mod auth;
mod credentials;
mod recovery;

pub use auth::BearerAuth;
pub use credentials::{BearerToken, InvalidMetadata, StaticMetadata};
pub(crate) use recovery::Recovering;
pub use recovery::Recovery;
