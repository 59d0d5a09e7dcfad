//! The `<service>_client` module: a tonic client with one async method per RPC, running the
//! client interceptor chain before each call leaves.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Context, nested_type};
use crate::docs::{doc, doc_attrs};
use crate::model::{Method, Service};
use crate::names;

pub(super) fn generate_client(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let rt_import = &cx.rt_import;
    let module = names::ident(&service.names.client_module);
    let client = names::ident(&service.names.client);
    let methods = service
        .methods
        .iter()
        .map(|method| client_method(cx, service, method));
    let deprecated = service.deprecated.then(|| quote!(#[deprecated]));
    let allow_deprecated = service
        .has_deprecated()
        .then(|| quote!(#![allow(deprecated)]));
    let module_doc = doc(&format!("Client side of `{}`.", service.full_name));
    let client_doc = doc_attrs(
        &service.comments,
        &[&format!("Client for `{}`.", service.full_name)],
    );
    quote! {
        #module_doc
        pub mod #module {
            #allow_deprecated
            #rt_import

            #client_doc
            #deprecated
            #[derive(Debug, Clone)]
            pub struct #client<T> {
                inner: #rt::ClientCore<T>,
            }

            impl #client<#rt::tonic::transport::Channel> {
                /// Connects to `dst` (such as `"http://127.0.0.1:50051"`); interceptors learn
                /// from its scheme whether the channel is TLS.
                pub async fn connect<D>(dst: D) -> #rt::Result<Self, #rt::tonic::transport::Error>
                where
                    D: #rt::TryInto<#rt::tonic::transport::Endpoint>,
                    D::Error: #rt::Into<#rt::StdError>,
                {
                    let endpoint = #rt::tonic::transport::Endpoint::new(dst)?;
                    let origin = endpoint.uri().clone();
                    Ok(Self::with_origin(endpoint.connect().await?, origin))
                }
            }

            impl<T> #client<T>
            where
                T: #rt::tonic::client::GrpcService<#rt::tonic::body::Body> + #rt::Send,
                T::Future: #rt::Send,
                T::Error: #rt::Into<#rt::StdError>,
                T::ResponseBody: #rt::Body<Data = #rt::Bytes> + #rt::Send + 'static,
                <T::ResponseBody as #rt::Body>::Error: #rt::Into<#rt::StdError> + #rt::Send,
            {
                /// Sends calls over `inner`, such as a `tonic::transport::Channel`.
                pub fn new(inner: T) -> Self {
                    Self {
                        inner: #rt::ClientCore::new(inner),
                    }
                }

                /// Sends calls over `inner` to `origin`, for transports that need the authority; its
                /// scheme (`https` or `http`) tells interceptors whether the channel is TLS.
                pub fn with_origin(inner: T, origin: #rt::http::Uri) -> Self {
                    Self {
                        inner: #rt::ClientCore::with_origin(inner, origin),
                    }
                }

                /// Runs `interceptor` on the head of every call, before it is sent, after the head
                /// interceptors added before it.
                #[must_use]
                pub fn with_head_interceptor(mut self, interceptor: impl #rt::HeadInterceptor) -> Self {
                    self.inner.interceptors = self.inner.interceptors.with_head(interceptor);
                    self
                }

                /// Runs `interceptor` around every call, inside the call interceptors added before it.
                #[must_use]
                pub fn with_call_interceptor(mut self, interceptor: impl #rt::CallInterceptor) -> Self {
                    self.inner.interceptors = self.inner.interceptors.with_call(interceptor);
                    self
                }

                /// Replaces the interceptors with `interceptors`.
                #[must_use]
                pub fn with_interceptors(mut self, interceptors: #rt::Interceptors) -> Self {
                    self.inner.interceptors = interceptors;
                    self
                }

                /// Compresses requests with `encoding`; the server must accept it.
                #[must_use]
                pub fn send_compressed(mut self, encoding: #rt::CompressionEncoding) -> Self {
                    self.inner = self.inner.send_compressed(encoding);
                    self
                }

                /// Tells the server that responses may be compressed with `encoding`.
                #[must_use]
                pub fn accept_compressed(mut self, encoding: #rt::CompressionEncoding) -> Self {
                    self.inner = self.inner.accept_compressed(encoding);
                    self
                }

                /// Limits the size of a decoded response message (default: 4 MiB).
                #[must_use]
                pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                    self.inner = self.inner.max_decoding_message_size(limit);
                    self
                }

                /// Limits the size of an encoded request message (default: `usize::MAX`).
                #[must_use]
                pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                    self.inner = self.inner.max_encoding_message_size(limit);
                    self
                }

                #(#methods)*
            }
        }
    }
}

fn client_method(cx: &Context<'_>, service: &Service, method: &Method) -> TokenStream {
    let rt = &cx.rt;
    let function = names::ident(&method.names.function);
    let methods_module = names::ident(&service.names.methods_module);
    let constant = names::ident(&method.names.constant);
    let input = nested_type(&method.input);
    let output = nested_type(&method.output);
    let (request, into_request) = if method.client_streaming {
        (
            quote!(impl #rt::tonic::IntoStreamingRequest<Message = #input>),
            quote!(into_streaming_request),
        )
    } else {
        (
            quote!(impl #rt::tonic::IntoRequest<#input>),
            quote!(into_request),
        )
    };
    let response = if method.server_streaming {
        quote!(#rt::tonic::codec::Streaming<#output>)
    } else {
        quote!(#output)
    };
    let send = match (method.client_streaming, method.server_streaming) {
        (false, false) => quote!(unary),
        (false, true) => quote!(server_streaming),
        (true, false) => quote!(client_streaming),
        (true, true) => quote!(streaming),
    };
    let docs = doc_attrs(
        &method.comments,
        &[&format!("Calls `{}`.", service.path(method))],
    );
    let deprecated = method.deprecated.then(|| quote!(#[deprecated]));
    quote! {
        #docs
        #deprecated
        pub async fn #function(
            &mut self,
            request: #request,
        ) -> #rt::Result<#rt::tonic::Response<#response>, #rt::tonic::Status> {
            self.inner
                .#send(&super::#methods_module::#constant, request.#into_request())
                .await
        }
    }
}
