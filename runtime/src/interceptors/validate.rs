use std::fmt::{self, Write as _};
use std::sync::Arc;

use tonic::{Code, Status};

use crate::interceptor::{AnyMessage, CallContext, CallInterceptor, Side};
use crate::status::{BadRequest, Details, bad_request};

/// How many field violations a status lists in its `google.rpc.BadRequest` at most: enough for
/// any form a person fills in, and small enough that the trailers stay far below the header
/// size limits of HTTP/2 peers whatever a request holds.
const MAX_REPORTED: usize = 100;

/// How many violations the status message spells out; it counts the others.
const MAX_IN_MESSAGE: usize = 3;

/// A message that checks its own fields, for [`Validation`] and [`validate`].
///
/// Report each problem with [`Violations::add`] (or [`Violations::ensure`]) under the proto name
/// of the field, as the client knows it, and the checks of a sub-message under
/// [`Violations::nested`], so that paths read `address.city` or `emails[1]`, as
/// `google.rpc.BadRequest` expects. Report every problem, not only the first: the client gets
/// them all in one answer.
///
/// ```
/// use greeter_runtime::interceptors::{Validate, Violations};
///
/// # #[derive(Clone, PartialEq, prost::Message)]
/// # struct Signup {
/// #     #[prost(string, tag = "1")] name: String,
/// #     #[prost(string, repeated, tag = "2")] emails: Vec<String>,
/// # }
/// impl Validate for Signup {
///     fn validate(&self, violations: &mut Violations) {
///         violations.ensure(!self.name.is_empty(), "name", "must not be empty");
///         for (i, email) in self.emails.iter().enumerate() {
///             if !email.contains('@') {
///                 violations.nested_item("emails", i, |v| v.add("", "must contain @"));
///             }
///         }
///     }
/// }
/// ```
pub trait Validate {
    /// Adds one violation to `violations` for each problem with this message; none when it is
    /// valid.
    fn validate(&self, violations: &mut Violations);
}

/// One problem with one field of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The path of the field from the top message: `name`, `address.city`, `emails[1]`; empty
    /// for the message as a whole.
    pub field: String,
    /// What is wrong with it, for the person who sent it: `must not be empty`.
    pub description: String,
}

/// The violations found in one message, with the path of the sub-message being checked.
///
/// ```
/// use greeter_runtime::interceptors::Violations;
///
/// let mut violations = Violations::new();
/// violations.add("name", "must not be empty");
/// violations.nested("address", |v| v.add("city", "must not be empty"));
/// violations.nested_item("emails", 2, |v| v.add("", "must contain @"));
/// let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
/// assert_eq!(fields, ["name", "address.city", "emails[2]"]);
///
/// let status = violations.status("Signup").unwrap();
/// assert_eq!(status.code(), tonic::Code::InvalidArgument);
/// assert!(status.message().starts_with("invalid Signup: name: must not be empty; "));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations {
    found: Vec<Violation>,
    /// The path of the sub-message being checked now; empty at the top.
    prefix: String,
}

impl Violations {
    /// None yet. Allocates nothing until a violation is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a violation of `field` (a field of the message being checked, empty for the
    /// message itself) described by `description`.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        let field = match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{field}", self.prefix),
        };
        self.found.push(Violation {
            field,
            description: description.into(),
        });
    }

    /// Adds a violation of `field` unless `valid`.
    pub fn ensure(&mut self, valid: bool, field: &str, description: impl Into<String>) {
        if !valid {
            self.add(field, description);
        }
    }

    /// Runs `check` on the sub-message in `field`: the fields it reports are under `field.`.
    pub fn nested(&mut self, field: &str, check: impl FnOnce(&mut Self)) {
        self.within(format_args!("{field}"), check);
    }

    /// Runs `check` on element `index` of the repeated `field`: the fields it reports are
    /// under `field[index].` (and its own violations, with an empty field, are `field[index]`).
    pub fn nested_item(&mut self, field: &str, index: usize, check: impl FnOnce(&mut Self)) {
        self.within(format_args!("{field}[{index}]"), check);
    }

    fn within(&mut self, segment: fmt::Arguments<'_>, check: impl FnOnce(&mut Self)) {
        let outer = self.prefix.len();
        let dot = usize::from(outer > 0);
        if dot == 1 {
            self.prefix.push('.');
        }
        // Writing to a String cannot fail.
        let _ = self.prefix.write_fmt(segment);
        if self.prefix.len() == outer + dot {
            // An empty segment: the checks stay at this message's level.
            self.prefix.truncate(outer);
        }
        check(self);
        self.prefix.truncate(outer);
    }

    /// How many violations were found.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether none were found: the message is valid.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The violations, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.found.iter()
    }

    /// The violations as a `google.rpc.BadRequest`, one field violation each, the first 100
    /// when there are more.
    pub fn to_bad_request(&self) -> BadRequest {
        BadRequest {
            field_violations: self
                .found
                .iter()
                .take(MAX_REPORTED)
                .map(|v| bad_request::FieldViolation {
                    field: v.field.clone(),
                    description: v.description.clone(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// `None` when there are no violations; otherwise the answer to a request with them:
    /// `INVALID_ARGUMENT` with the message `invalid <subject>: <field>: <description>; …`
    /// (the first three, then how many more) and a `google.rpc.BadRequest` detail with one
    /// field violation each (the first 100 when there are more).
    pub fn status(&self, subject: &str) -> Option<Status> {
        if self.found.is_empty() {
            return None;
        }
        let mut message = format!("invalid {subject}: ");
        for (i, violation) in self.found.iter().take(MAX_IN_MESSAGE).enumerate() {
            if i > 0 {
                message.push_str("; ");
            }
            if !violation.field.is_empty() {
                message.push_str(&violation.field);
                message.push_str(": ");
            }
            message.push_str(&violation.description);
        }
        if let Some(more) = self
            .found
            .len()
            .checked_sub(MAX_IN_MESSAGE)
            .filter(|&n| n > 0)
        {
            let _ = write!(message, "; and {more} more");
        }
        let details = Details::new().with(self.to_bad_request());
        Some(details.into_status(Code::InvalidArgument, message))
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.found.iter()
    }
}

/// Checks `message` outside a chain (in a handler, a test, a plain tonic interceptor): `Ok`
/// when it has no violations, else the [`Violations::status`] a [`Validation`] would answer,
/// named after the Rust type (`invalid HelloRequest: name: must not be empty`).
///
/// ```
/// use greeter_runtime::interceptors::{Validate, Violations, validate};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct HelloRequest {
///     #[prost(string, tag = "1")]
///     name: String,
/// }
///
/// impl Validate for HelloRequest {
///     fn validate(&self, violations: &mut Violations) {
///         violations.ensure(!self.name.is_empty(), "name", "must not be empty");
///     }
/// }
///
/// assert!(validate(&HelloRequest { name: "ann".into() }).is_ok());
/// let refused = validate(&HelloRequest::default()).unwrap_err();
/// assert_eq!(refused.message(), "invalid HelloRequest: name: must not be empty");
/// ```
pub fn validate<T: Validate>(message: &T) -> Result<(), Status> {
    let mut violations = Violations::new();
    message.validate(&mut violations);
    violations.status(rust_name::<T>()).map_or(Ok(()), Err)
}

/// The last segment of a Rust type's path, without generic arguments: `HelloRequest`.
fn rust_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let name = name.split_once('<').map_or(name, |(path, _)| path);
    name.rsplit_once("::").map_or(name, |(_, last)| last)
}

/// The last segment of a proto full name: `HelloRequest` for `greeter.v1.HelloRequest`.
fn proto_name(full_name: &str) -> &str {
    full_name
        .rsplit_once('.')
        .map_or(full_name, |(_, last)| last)
}

/// A check of one message type, run on a type-erased message: it does nothing to a message of
/// another type.
type Check = dyn Fn(&AnyMessage<'_>, &mut Violations) + Send + Sync;

#[derive(Clone)]
struct Entry {
    rust_type: &'static str,
    check: Arc<Check>,
}

/// Call interceptor that checks requests before they go on: each request of a registered
/// type, in all four kinds of call, and answers a request with violations `INVALID_ARGUMENT`
/// with a `google.rpc.BadRequest` detail listing them (see [`Violations::status`]).
///
/// - **On a server** it checks each request as it is received, before the handler sees it: an
///   invalid request of a unary or server-streaming call never reaches the handler; in a
///   request stream the handler gets the status in place of the invalid message, as its
///   stream's last item, and the call ends with it (nothing sent after the invalid message
///   reaches the handler).
/// - **On a client** it checks each request before it is encoded, so an invalid request is
///   never sent: the call ends with the same status, made locally.
///
/// Responses are never checked, on either side.
///
/// Rust has no way to ask a type-erased message whether it implements [`Validate`], so the
/// types to check are registered: [`message`](Self::message) for a type that implements
/// it, [`message_with`](Self::message_with) for any check of yours (a type of another crate,
/// or a validator from a protovalidate implementation). A request of a type not registered
/// goes through as it is, at the cost of one type comparison per registered type.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::{Validate, Validation, Violations};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct HelloRequest {
///     #[prost(string, tag = "1")]
///     name: String,
/// }
///
/// impl Validate for HelloRequest {
///     fn validate(&self, violations: &mut Violations) {
///         violations.ensure(!self.name.is_empty(), "name", "must not be empty");
///         let chars = self.name.chars().count();
///         violations.ensure(chars <= 100, "name", format!("must be at most 100 characters, not {chars}"));
///     }
/// }
///
/// # #[derive(Clone, PartialEq, prost::Message)]
/// # struct Upload { #[prost(bytes = "vec", tag = "1")] data: Vec<u8> }
/// let validation = Validation::new()
///     .message::<HelloRequest>()
///     .message_with(|upload: &Upload, violations| {
///         violations.ensure(upload.data.len() <= 1 << 20, "data", "must be at most 1 MiB");
///     });
/// // On a server (or a client): `GreeterServer::new(greeter).with_call_interceptor(validation)`.
/// let chain = Interceptors::new().with_call(validation);
/// assert_eq!(chain.call_len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Validation {
    entries: Vec<Entry>,
}

impl Validation {
    /// Checks no type yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the validation checking requests of type `T` with its [`Validate`] impl.
    #[must_use]
    pub fn message<T: Validate + 'static>(self) -> Self {
        self.message_with(|message: &T, violations| message.validate(violations))
    }

    /// Returns the validation checking requests of type `T` with `check`, which adds the
    /// violations it finds. Every check registered for a type runs, in the order added.
    #[must_use]
    pub fn message_with<T: 'static>(
        mut self,
        check: impl Fn(&T, &mut Violations) + Send + Sync + 'static,
    ) -> Self {
        self.entries.push(Entry {
            rust_type: std::any::type_name::<T>(),
            check: Arc::new(
                move |message: &AnyMessage<'_>, violations: &mut Violations| {
                    if let Some(message) = message.downcast_ref::<T>() {
                        check(message, violations);
                    }
                },
            ),
        });
        self
    }

    /// Returns the validation checking requests of type `T` against their `buf.validate`
    /// (protovalidate) rules, with the `prost_protovalidate::Validate` impl that
    /// `prost-protovalidate-build` generates from the proto (standard rules; a message with CEL
    /// rules needs that crate's runtime validator). Each violation keeps its field path; one
    /// with no message reads as its rule id, such as `[string.email_empty]`.
    ///
    /// Feature `protovalidate`. Building the `prost-protovalidate` crate needs a protoc
    /// (`PROTOC`), which nothing else here does.
    #[cfg(feature = "protovalidate")]
    #[must_use]
    pub fn protovalidate<T: prost_protovalidate::Validate + 'static>(self) -> Self {
        self.message_with(|message: &T, violations| {
            if let Err(error) = message.validate() {
                for violation in error.violations() {
                    let description = match violation.message() {
                        "" => format!("[{}]", violation.rule_id()),
                        text => text.to_owned(),
                    };
                    violations.add(&violation.field_path(), description);
                }
            }
        })
    }

    /// Checks `message` with every check registered for its type: `Ok` when there are none or
    /// it has no violations, else [`Violations::status`] named after the proto type.
    pub fn check(&self, message: &AnyMessage<'_>) -> Result<(), Status> {
        let mut violations = Violations::new();
        for entry in &self.entries {
            (entry.check)(message, &mut violations);
        }
        violations
            .status(proto_name(message.full_name()))
            .map_or(Ok(()), Err)
    }
}

impl fmt::Debug for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validation")
            .field(
                "types",
                &self.entries.iter().map(|e| e.rust_type).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CallInterceptor for Validation {
    fn wraps_call(&self) -> bool {
        false
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        match context.side() {
            Side::Server => self.check(message),
            Side::Client => Ok(()),
        }
    }

    fn on_send(&self, context: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        match context.side() {
            Side::Client => self.check(message),
            Side::Server => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Idempotency, MethodInfo, StreamingKind};

    const SIGN_UP: MethodInfo = MethodInfo::new(
        "t.v1.People",
        "SignUp",
        "/t.v1.People/SignUp",
        StreamingKind::Unary,
        Idempotency::Unknown,
    )
    .with_message_types("t.v1.Person", "t.v1.Person");

    #[derive(Clone, PartialEq, prost::Message)]
    struct Address {
        #[prost(string, tag = "1")]
        city: String,
        #[prost(string, tag = "2")]
        zip: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Person {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(message, optional, tag = "2")]
        address: Option<Address>,
        #[prost(string, repeated, tag = "3")]
        emails: Vec<String>,
        #[prost(message, repeated, tag = "4")]
        previous: Vec<Address>,
    }

    /// Not registered anywhere: its requests are never checked.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Other {
        #[prost(string, tag = "1")]
        name: String,
    }

    impl Validate for Address {
        fn validate(&self, violations: &mut Violations) {
            violations.ensure(!self.city.is_empty(), "city", "must not be empty");
            violations.ensure(
                self.zip.chars().all(|c| c.is_ascii_digit()),
                "zip",
                "must be digits",
            );
        }
    }

    impl Validate for Person {
        fn validate(&self, violations: &mut Violations) {
            violations.ensure(!self.name.is_empty(), "name", "must not be empty");
            match &self.address {
                Some(address) => violations.nested("address", |v| address.validate(v)),
                None => violations.add("address", "must be set"),
            }
            for (i, email) in self.emails.iter().enumerate() {
                if !email.contains('@') {
                    violations.nested_item("emails", i, |v| v.add("", "must contain @"));
                }
            }
            for (i, address) in self.previous.iter().enumerate() {
                violations.nested_item("previous", i, |v| address.validate(v));
            }
        }
    }

    fn valid_person() -> Person {
        Person {
            name: "ann".into(),
            address: Some(Address {
                city: "Oslo".into(),
                zip: "0150".into(),
            }),
            emails: vec!["ann@example.com".into()],
            previous: vec![],
        }
    }

    fn invalid_person() -> Person {
        Person {
            name: String::new(),
            address: Some(Address {
                city: String::new(),
                zip: "01x".into(),
            }),
            emails: vec!["a@b".into(), "nope".into()],
            previous: vec![Address {
                city: "Bergen".into(),
                zip: "5O03".into(),
            }],
        }
    }

    fn found(violations: &Violations) -> Vec<(&str, &str)> {
        violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect()
    }

    fn bad_request_of(status: &Status) -> Vec<(String, String)> {
        let details = Details::of(status).unwrap();
        assert_eq!(details.len(), 1, "one detail: the BadRequest");
        let bad: BadRequest = details.get().unwrap().unwrap();
        bad.field_violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect()
    }

    #[test]
    fn every_violation_is_collected_with_its_nested_path() {
        let mut violations = Violations::new();
        invalid_person().validate(&mut violations);
        assert_eq!(
            found(&violations),
            [
                ("name", "must not be empty"),
                ("address.city", "must not be empty"),
                ("address.zip", "must be digits"),
                ("emails[1]", "must contain @"),
                ("previous[0].zip", "must be digits"),
            ]
        );
        // The path is back at the top after each nested check.
        violations.add("name", "again");
        assert_eq!(violations.iter().last().unwrap().field, "name");
        assert_eq!(violations.len(), 6);

        let mut none = Violations::new();
        valid_person().validate(&mut none);
        assert!(none.is_empty());
        assert!(none.status("Person").is_none());
    }

    #[test]
    fn nesting_goes_as_deep_as_the_messages() {
        let mut violations = Violations::new();
        violations.nested("a", |v| {
            v.nested("", |v| v.add("x", "an empty segment adds no level"));
            v.nested_item("b", 3, |v| {
                v.nested("c", |v| v.add("d", "deep"));
                v.add("", "the element itself");
            });
            v.add("", "the sub-message itself");
        });
        violations.nested("", |v| v.add("y", "nor at the top"));
        assert_eq!(
            found(&violations),
            [
                ("a.x", "an empty segment adds no level"),
                ("a.b[3].c.d", "deep"),
                ("a.b[3]", "the element itself"),
                ("a", "the sub-message itself"),
                ("y", "nor at the top"),
            ]
        );
    }

    #[test]
    fn the_status_is_invalid_argument_with_a_bad_request_of_every_violation() {
        let mut violations = Violations::new();
        invalid_person().validate(&mut violations);
        let status = violations.status("Person").unwrap();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid Person: name: must not be empty; address.city: must not be empty; \
             address.zip: must be digits; and 2 more"
        );
        let expected: Vec<_> = found(&violations)
            .into_iter()
            .map(|(f, d)| (f.to_owned(), d.to_owned()))
            .collect();
        assert_eq!(bad_request_of(&status), expected);

        // The standard decoder of google.rpc details reads it too.
        use tonic_types::StatusExt;
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations.len(), 5);
        assert_eq!(bad.field_violations[3].field, "emails[1]");
    }

    #[test]
    fn a_violation_of_the_whole_message_has_no_field_in_the_message() {
        let mut violations = Violations::new();
        violations.add("", "must set a name or an email");
        let status = violations.status("Person").unwrap();
        assert_eq!(
            status.message(),
            "invalid Person: must set a name or an email"
        );
        assert_eq!(
            bad_request_of(&status),
            [(String::new(), "must set a name or an email".to_owned())]
        );
    }

    #[test]
    fn a_flood_of_violations_is_reported_in_part_and_counted() {
        let mut violations = Violations::new();
        for i in 0..250 {
            violations.nested_item("items", i, |v| v.add("", "bad"));
        }
        let status = violations.status("Batch").unwrap();
        assert_eq!(violations.len(), 250);
        assert!(
            status.message().ends_with("items[2]: bad; and 247 more"),
            "{}",
            status.message()
        );
        let listed = bad_request_of(&status);
        assert_eq!(listed.len(), MAX_REPORTED);
        assert_eq!(listed[99].0, "items[99]");
    }

    #[test]
    fn the_plain_function_names_the_rust_type() {
        assert!(validate(&valid_person()).is_ok());
        let status = validate(&invalid_person()).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("invalid Person: name: must not be empty;"),
            "{}",
            status.message()
        );
        assert_eq!(bad_request_of(&status).len(), 5);
        assert_eq!(rust_name::<Vec<Person>>(), "Vec");
        assert_eq!(proto_name("Bare"), "Bare");
    }

    fn receive(
        validation: &Validation,
        side: Side,
        message: &mut impl MessageUnderTest,
    ) -> Result<(), Status> {
        let context = CallContext::new(side, &SIGN_UP);
        validation.on_receive(&context, &mut message.erased())
    }

    fn send(
        validation: &Validation,
        side: Side,
        message: &mut impl MessageUnderTest,
    ) -> Result<(), Status> {
        let context = CallContext::new(side, &SIGN_UP);
        validation.on_send(&context, &mut message.erased())
    }

    trait MessageUnderTest {
        fn erased(&mut self) -> AnyMessage<'_>;
    }

    impl MessageUnderTest for Person {
        fn erased(&mut self) -> AnyMessage<'_> {
            AnyMessage::new(self, "t.v1.Person")
        }
    }

    impl MessageUnderTest for Other {
        fn erased(&mut self) -> AnyMessage<'_> {
            AnyMessage::new(self, "t.v1.Other")
        }
    }

    #[test]
    fn requests_are_checked_where_they_arrive_on_a_server_and_leave_a_client() {
        let validation = Validation::new().message::<Person>();
        let refused = receive(&validation, Side::Server, &mut invalid_person()).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().starts_with("invalid Person: name: "));
        assert_eq!(bad_request_of(&refused).len(), 5);
        assert!(receive(&validation, Side::Server, &mut valid_person()).is_ok());

        let refused = send(&validation, Side::Client, &mut invalid_person()).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(send(&validation, Side::Client, &mut valid_person()).is_ok());

        // Responses: what a server sends and a client receives.
        assert!(send(&validation, Side::Server, &mut invalid_person()).is_ok());
        assert!(receive(&validation, Side::Client, &mut invalid_person()).is_ok());
    }

    #[test]
    fn unregistered_types_pass_untouched() {
        let validation = Validation::new().message::<Person>();
        let mut other = Other::default();
        assert!(receive(&validation, Side::Server, &mut other).is_ok());
        assert!(send(&validation, Side::Client, &mut other).is_ok());
        assert!(receive(&Validation::new(), Side::Server, &mut invalid_person()).is_ok());
    }

    #[test]
    fn every_check_of_a_type_runs_and_the_report_is_one() {
        let validation = Validation::new()
            .message::<Person>()
            .message_with(|other: &Other, v| v.ensure(!other.name.is_empty(), "name", "needed"))
            .message_with(|person: &Person, v| {
                v.ensure(person.emails.len() <= 1, "emails", "at most one");
            });
        let mut person = invalid_person();
        let refused = receive(&validation, Side::Server, &mut person).unwrap_err();
        let listed = bad_request_of(&refused);
        assert_eq!(listed.len(), 6);
        assert_eq!(listed[5], ("emails".to_owned(), "at most one".to_owned()));

        let refused = receive(&validation, Side::Server, &mut Other::default()).unwrap_err();
        assert_eq!(refused.message(), "invalid Other: name: needed");
        assert_eq!(
            format!("{validation:?}"),
            format!(
                "Validation {{ types: [\"{0}\", \"{1}\", \"{0}\"] }}",
                std::any::type_name::<Person>(),
                std::any::type_name::<Other>()
            )
        );
    }
}

#[cfg(all(test, feature = "protovalidate"))]
mod protovalidate_tests {
    use prost_protovalidate::{ValidationError, Violation as RuleViolation};

    use super::*;
    use crate::status::Details;

    /// A message as `prost-protovalidate-build` would validate it: a name of 1 to 100
    /// characters, and an e-mail address.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Signup {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        email: String,
    }

    impl prost_protovalidate::Validate for Signup {
        fn validate(&self) -> Result<(), ValidationError> {
            let mut violations = Vec::new();
            if self.name.is_empty() {
                violations.push(RuleViolation::new(
                    "name",
                    "string.min_len",
                    "value length must be at least 1 characters",
                ));
            }
            if !self.email.contains('@') {
                violations.push(RuleViolation::new_constraint(
                    "email",
                    "string.email",
                    "string.email",
                ));
            }
            match violations.is_empty() {
                true => Ok(()),
                false => Err(ValidationError::new(violations)),
            }
        }
    }

    #[test]
    fn buf_validate_violations_become_a_bad_request() {
        let validation = Validation::new().protovalidate::<Signup>();
        let mut valid = Signup {
            name: "ann".into(),
            email: "ann@example.com".into(),
        };
        assert!(
            validation
                .check(&AnyMessage::new(&mut valid, "t.Signup"))
                .is_ok()
        );
        let mut invalid = Signup::default();
        let status = validation
            .check(&AnyMessage::new(&mut invalid, "t.Signup"))
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = Details::of(&status)
            .unwrap()
            .get::<BadRequest>()
            .unwrap()
            .unwrap();
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("name", "value length must be at least 1 characters"),
                ("email", "[string.email]"),
            ]
        );
    }
}
