//! The interop spec's "Echo Metadata" server feature, as one call interceptor for every method.

use greeter_runtime::interceptor::{Call, CallInterceptor, InterceptFuture, Next};

use super::{ECHO_INITIAL, ECHO_TRAILING};

/// Sends back `x-grpc-test-echo-initial` among the response headers and
/// `x-grpc-test-echo-trailing-bin` among the trailers, exactly as the client sent them (every
/// value, undecoded), whether the call succeeds or fails.
///
/// It works in the call's context, which the generated server sends with the response head
/// and the final status, so no handler needs to know about it.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoMetadata;

impl CallInterceptor for EchoMetadata {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            if let Some(request) = call.metadata_mut() {
                let initial: Vec<_> = request
                    .get_all(ECHO_INITIAL.name())
                    .iter()
                    .cloned()
                    .collect();
                let trailing: Vec<_> = request
                    .get_all_bin(ECHO_TRAILING.name())
                    .iter()
                    .cloned()
                    .collect();
                let context = call.context();
                let mut headers = context.headers();
                for value in initial {
                    headers.append(ECHO_INITIAL.name(), value);
                }
                drop(headers);
                let mut trailers = context.trailers();
                for value in trailing {
                    trailers.append_bin(ECHO_TRAILING.name(), value);
                }
            }
            next.run(call).await
        })
    }
}
