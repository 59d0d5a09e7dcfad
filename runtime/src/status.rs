//! google.rpc status details: the richer error model, carried in `grpc-status-details-bin`.
//!
//! These are the `tonic-types` types, re-exported so users of generated code need no extra
//! dependency to attach or read details.
//!
//! ```
//! use greeter_runtime::status::{ErrorDetails, StatusExt};
//! use tonic::{Code, Status};
//!
//! let status = Status::with_error_details(
//!     Code::ResourceExhausted,
//!     "Request limit exceeded.",
//!     ErrorDetails::with_quota_failure_violation("name:world", "limit 1"),
//! );
//! let details = status.get_error_details();
//! let violation = &details.quota_failure().unwrap().violations[0];
//! assert_eq!(violation.subject, "name:world");
//! ```

pub use tonic_types::{ErrorDetail, ErrorDetails, StatusExt};
