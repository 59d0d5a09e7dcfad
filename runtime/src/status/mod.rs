//! google.rpc status details, the richer error model carried in `grpc-status-details-bin`:
//! build a [`Status`] with any number of details in one expression, read them back typed, and
//! keep the ones of types you don't know.
//!
//! A detail is any message that implements [`Detail`]: the ten standard google.rpc types
//! (re-exported here from `tonic-types`), messages a method's error contract names (the
//! generator implements it for them), and any message of yours with one line.
//!
//! ```
//! use greeter_runtime::status::{Details, QuotaFailure, RetryInfo, quota_failure};
//! use tonic::Code;
//!
//! // A handler's error, in one expression.
//! let status = Details::new()
//!     .with(QuotaFailure {
//!         violations: vec![quota_failure::Violation {
//!             subject: "name:world".into(),
//!             description: "1 call per name".into(),
//!             ..Default::default()
//!         }],
//!     })
//!     .with(RetryInfo::default())
//!     .into_status(Code::ResourceExhausted, "Request limit exceeded.");
//!
//! // The client's reading of it.
//! let details = Details::of(&status).unwrap();
//! let quota: QuotaFailure = details.get().unwrap().unwrap();
//! assert_eq!(quota.violations[0].subject, "name:world");
//! assert_eq!(details.len(), 2);
//! ```

mod sanitize;

pub use sanitize::REJECTED_DETAILS;
pub(crate) use sanitize::sanitize_status;

pub use prost_types::Any;
pub use tonic_types::pb::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo, bad_request, help, precondition_failure, quota_failure,
};

use prost::{DecodeError, Message};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

/// The domain of the type URLs written here; reading accepts any domain.
const TYPE_URL_DOMAIN: &str = "type.googleapis.com/";

/// A message that can travel as a status detail: its proto full name gives its type URL.
///
/// Implemented for the standard google.rpc details, and by generated code for every message a
/// method's error contract names. For another message of yours, one line:
///
/// ```
/// # #[derive(Clone, PartialEq, prost::Message)] struct Retry { #[prost(uint32, tag = "1")] after: u32 }
/// impl greeter_runtime::status::Detail for Retry {
///     const TYPE_NAME: &'static str = "acme.v1.Retry";
/// }
/// ```
pub trait Detail: Message + Default + 'static {
    /// The proto full name, such as `google.rpc.QuotaFailure`.
    const TYPE_NAME: &'static str;
}

macro_rules! standard_details {
    ($($ty:ident),* $(,)?) => {
        $(impl Detail for $ty {
            const TYPE_NAME: &'static str = concat!("google.rpc.", stringify!($ty));
        })*
    };
}

standard_details!(
    ErrorInfo,
    RetryInfo,
    DebugInfo,
    QuotaFailure,
    PreconditionFailure,
    BadRequest,
    RequestInfo,
    ResourceInfo,
    Help,
    LocalizedMessage,
);

/// The details of a status, in order, each an [`Any`]: those of known types readable as such,
/// the others kept as they came (type URL and bytes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Details {
    items: Vec<Any>,
}

impl Details {
    /// No details.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns these details with `detail` appended.
    #[must_use]
    pub fn with<D: Detail>(mut self, detail: D) -> Self {
        self.push(&detail);
        self
    }

    /// Returns these details with `any` appended as it is (a detail of a type not at hand).
    #[must_use]
    pub fn with_any(mut self, any: Any) -> Self {
        self.items.push(any);
        self
    }

    /// Appends `detail`.
    pub fn push<D: Detail>(&mut self, detail: &D) {
        self.items.push(Any {
            type_url: format!("{TYPE_URL_DOMAIN}{}", D::TYPE_NAME),
            value: detail.encode_to_vec(),
        });
    }

    /// How many details there are, of every type.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every detail, in order, as it travels.
    pub fn iter(&self) -> std::slice::Iter<'_, Any> {
        self.items.iter()
    }

    /// The first detail of type `D`: `None` if there is none, an error if its bytes are not a
    /// `D`.
    pub fn get<D: Detail>(&self) -> Option<Result<D, DecodeError>> {
        self.get_all::<D>().next()
    }

    /// Every detail of type `D`, in order.
    pub fn get_all<D: Detail>(&self) -> impl Iterator<Item = Result<D, DecodeError>> + '_ {
        self.items.iter().filter_map(unpack::<D>)
    }

    /// Whether a detail of type `D` is present.
    pub fn contains<D: Detail>(&self) -> bool {
        self.items
            .iter()
            .any(|any| type_name(&any.type_url) == D::TYPE_NAME)
    }

    /// The details `status` carries (none if it has none); an error if its details are not a
    /// google.rpc.Status. A generated client's statuses always decode: it sets aside details
    /// it cannot read (see [`REJECTED_DETAILS`]).
    pub fn of(status: &Status) -> Result<Self, DecodeError> {
        if status.details().is_empty() {
            return Ok(Self::new());
        }
        let rpc = tonic_types::pb::Status::decode(status.details())?;
        Ok(Self { items: rpc.details })
    }

    /// A status with `code`, `message` and these details.
    pub fn into_status(self, code: Code, message: impl Into<String>) -> Status {
        self.into_status_with_metadata(code, message.into(), MetadataMap::new())
    }

    /// `status` with these details in place of any it had; its code, message and metadata kept.
    pub fn attach_to(self, status: Status) -> Status {
        let metadata = status.metadata().clone();
        self.into_status_with_metadata(status.code(), status.message().to_owned(), metadata)
    }

    fn into_status_with_metadata(
        self,
        code: Code,
        message: String,
        metadata: MetadataMap,
    ) -> Status {
        if self.items.is_empty() {
            return Status::with_metadata(code, message, metadata);
        }
        let rpc = tonic_types::pb::Status {
            code: code as i32,
            message: message.clone(),
            details: self.items,
        };
        Status::with_details_and_metadata(code, message, rpc.encode_to_vec().into(), metadata)
    }
}

impl<'a> IntoIterator for &'a Details {
    type Item = &'a Any;
    type IntoIter = std::slice::Iter<'a, Any>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl IntoIterator for Details {
    type Item = Any;
    type IntoIter = std::vec::IntoIter<Any>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<Any> for Details {
    fn from_iter<I: IntoIterator<Item = Any>>(iter: I) -> Self {
        Self {
            items: iter.into_iter().collect(),
        }
    }
}

/// `any` as a `D`: `None` if it holds another type, an error if its bytes are not a `D`.
pub fn unpack<D: Detail>(any: &Any) -> Option<Result<D, DecodeError>> {
    (type_name(&any.type_url) == D::TYPE_NAME).then(|| D::decode(any.value.as_slice()))
}

/// The full name in a type URL: what follows its last `/`.
fn type_name(type_url: &str) -> &str {
    type_url.rsplit_once('/').map_or(type_url, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_detail_survives_a_round_trip() {
        let info = ErrorInfo {
            reason: "QUOTA".into(),
            domain: "example.com".into(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
        };
        let retry = RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: 3,
                nanos: 5,
            }),
        };
        let debug = DebugInfo {
            stack_entries: vec!["frame".into()],
            detail: "boom".into(),
        };
        let quota = QuotaFailure {
            violations: vec![quota_failure::Violation {
                subject: "name:a".into(),
                description: "1 per name".into(),
                ..Default::default()
            }],
        };
        let precondition = PreconditionFailure {
            violations: vec![precondition_failure::Violation {
                r#type: "TOS".into(),
                subject: "user".into(),
                description: "not accepted".into(),
            }],
        };
        let bad = BadRequest {
            field_violations: vec![bad_request::FieldViolation {
                field: "name".into(),
                description: "empty".into(),
                ..Default::default()
            }],
        };
        let request = RequestInfo {
            request_id: "r-1".into(),
            serving_data: "shard 2".into(),
        };
        let resource = ResourceInfo {
            resource_type: "book".into(),
            resource_name: "b-1".into(),
            owner: "me".into(),
            description: "missing".into(),
        };
        let help = Help {
            links: vec![help::Link {
                description: "docs".into(),
                url: "https://example.com".into(),
            }],
        };
        let localized = LocalizedMessage {
            locale: "fr-FR".into(),
            message: "trop".into(),
        };
        let status = Details::new()
            .with(info.clone())
            .with(retry)
            .with(debug.clone())
            .with(quota.clone())
            .with(precondition.clone())
            .with(bad.clone())
            .with(request.clone())
            .with(resource.clone())
            .with(help.clone())
            .with(localized.clone())
            .into_status(Code::FailedPrecondition, "all of them");
        let details = Details::of(&status).unwrap();
        assert_eq!(details.len(), 10);
        assert_eq!(details.get::<ErrorInfo>().unwrap().unwrap(), info);
        assert_eq!(details.get::<RetryInfo>().unwrap().unwrap(), retry);
        assert_eq!(details.get::<DebugInfo>().unwrap().unwrap(), debug);
        assert_eq!(details.get::<QuotaFailure>().unwrap().unwrap(), quota);
        assert_eq!(
            details.get::<PreconditionFailure>().unwrap().unwrap(),
            precondition
        );
        assert_eq!(details.get::<BadRequest>().unwrap().unwrap(), bad);
        assert_eq!(details.get::<RequestInfo>().unwrap().unwrap(), request);
        assert_eq!(details.get::<ResourceInfo>().unwrap().unwrap(), resource);
        assert_eq!(details.get::<Help>().unwrap().unwrap(), help);
        assert_eq!(
            details.get::<LocalizedMessage>().unwrap().unwrap(),
            localized
        );
        // The type URLs are the standard ones other gRPC implementations look for.
        assert_eq!(
            details.iter().nth(3).unwrap().type_url,
            "type.googleapis.com/google.rpc.QuotaFailure"
        );
    }

    #[test]
    fn unknown_types_are_kept_in_order() {
        let stranger = Any {
            type_url: "example.com/acme.v1.Mystery".into(),
            value: vec![1, 2, 3],
        };
        let status = Details::new()
            .with(ErrorInfo {
                reason: "R".into(),
                ..Default::default()
            })
            .with_any(stranger.clone())
            .into_status(Code::Aborted, "no");
        let details = Details::of(&status).unwrap();
        assert_eq!(details.iter().nth(1), Some(&stranger));
        assert_eq!(details.get::<ErrorInfo>().unwrap().unwrap().reason, "R");
        assert!(details.get::<Help>().is_none());
        assert!(!details.contains::<RetryInfo>());
    }

    #[test]
    fn a_detail_of_another_domain_is_still_read() {
        let details = Details::new().with_any(Any {
            type_url: "types.example.net/google.rpc.RetryInfo".into(),
            value: RetryInfo::default().encode_to_vec(),
        });
        assert!(details.get::<RetryInfo>().unwrap().is_ok());
    }

    #[test]
    fn bytes_that_are_not_the_type_are_an_error_not_a_guess() {
        let details = Details::new().with_any(Any {
            type_url: "type.googleapis.com/google.rpc.Help".into(),
            value: vec![0xff, 0xff],
        });
        assert!(details.get::<Help>().unwrap().is_err());
    }

    #[test]
    fn attach_keeps_code_message_and_metadata() {
        let mut status = Status::not_found("gone");
        status
            .metadata_mut()
            .insert("x-trace", "t1".parse().unwrap());
        let status = Details::new()
            .with(ResourceInfo::default())
            .attach_to(status);
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "gone");
        assert_eq!(status.metadata().get("x-trace").unwrap(), "t1");
        assert!(Details::of(&status).unwrap().contains::<ResourceInfo>());
    }

    #[test]
    fn no_details_no_bytes() {
        let status = Details::new().into_status(Code::Internal, "x");
        assert!(status.details().is_empty());
        assert!(Details::of(&status).unwrap().is_empty());
    }
}
