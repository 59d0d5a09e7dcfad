//! Standard interceptors: one file per concern.
//!
//! Server: [`Recovery`] (panics), logging, [`BearerAuth`] (auth on the request head),
//! validation, deadlines. Client: credentials and metadata ([`BearerToken`],
//! [`StaticMetadata`]), default deadlines, timing, retry.

mod auth;
mod credentials;
mod deadline;
mod logging;
mod recovery;
mod retry;
mod timing;
mod validate;

pub use auth::BearerAuth;
pub use credentials::{BearerToken, DynamicMetadata, InvalidMetadata, StaticMetadata};
pub use deadline::{DefaultDeadline, MaxDeadline};
pub use logging::Logging;
pub(crate) use recovery::Recovering;
pub use recovery::Recovery;
pub use retry::{Attempts, Retry};
pub use timing::Timing;

pub use validate::{Validate, Validation, Violation, Violations, validate};
