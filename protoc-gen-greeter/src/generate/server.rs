//! The `<service>_server` module: the service trait users implement and the tonic server that
//! dispatches to it, running the interceptor chain before every handler.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Context, nested_type};
use crate::docs::{doc, doc_attrs};
use crate::model::{Method, Service};
use crate::names;

pub(super) fn generate_server(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let rt_import = &cx.rt_import;
    let module = names::ident(&service.names.server_module);
    let trait_name = names::ident(&service.names.trait_name);
    let server = names::ident(&service.names.server);
    let methods_module = names::ident(&service.names.methods_module);
    let trait_items = service.methods.iter().map(|method| trait_items(cx, method));
    let arms: Vec<_> = service
        .methods
        .iter()
        .map(|method| dispatch_arm(cx, service, method))
        .collect();
    // A service without methods answers every call UNIMPLEMENTED; a one-arm `match` would be
    // a clippy warning in users' crates.
    let dispatch = if arms.is_empty() {
        quote!(#rt::ServerCore::unknown_method(req.uri().path()))
    } else {
        quote! {
            match req.uri().path() {
                #(#arms)*
                path => #rt::ServerCore::unknown_method(path),
            }
        }
    };
    let deprecated = service.deprecated.then(|| quote!(#[deprecated]));
    let allow_deprecated = service
        .has_deprecated()
        .then(|| quote!(#![allow(deprecated)]));
    let module_doc = doc(&format!("Server side of `{}`.", service.full_name));
    let trait_doc = doc_attrs(
        &service.comments,
        &[&format!(
            "Implement this to serve `{}`, then hand it to [`{}`].",
            service.full_name, service.names.server
        )],
    );
    let server_doc = doc(&format!(
        "Serves a [`{}`] implementation as the gRPC service `{}`.",
        service.names.trait_name, service.full_name
    ));
    quote! {
        #module_doc
        pub mod #module {
            #allow_deprecated
            #rt_import

            #trait_doc
            #deprecated
            pub trait #trait_name: #rt::Send + #rt::Sync + 'static {
                #(#trait_items)*
            }

            #server_doc
            #deprecated
            #[derive(Debug)]
            pub struct #server<T> {
                inner: #rt::Arc<T>,
                core: #rt::ServerCore,
            }

            impl<T> #server<T> {
                /// Serves `inner`.
                pub fn new(inner: T) -> Self {
                    Self::from_arc(#rt::Arc::new(inner))
                }

                /// Serves an implementation that is shared with other code.
                pub fn from_arc(inner: #rt::Arc<T>) -> Self {
                    Self {
                        inner,
                        core: #rt::ServerCore::default(),
                    }
                }

                /// Runs `interceptor` before every handler, after those added before it.
                #[must_use]
                pub fn with_interceptor(mut self, interceptor: impl #rt::ServerInterceptor) -> Self {
                    self.core.interceptors = self.core.interceptors.with(interceptor);
                    self
                }

                /// Replaces the interceptor chain with `interceptors`.
                #[must_use]
                pub fn with_interceptors(mut self, interceptors: #rt::ServerInterceptors) -> Self {
                    self.core.interceptors = interceptors;
                    self
                }

                /// Accepts requests compressed with `encoding`.
                #[must_use]
                pub fn accept_compressed(mut self, encoding: #rt::CompressionEncoding) -> Self {
                    self.core.config.accept_compressed(encoding);
                    self
                }

                /// Compresses responses with `encoding` when the client accepts it.
                #[must_use]
                pub fn send_compressed(mut self, encoding: #rt::CompressionEncoding) -> Self {
                    self.core.config.send_compressed(encoding);
                    self
                }

                /// Limits the size of a decoded request message (default: 4 MiB).
                #[must_use]
                pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                    self.core.config.max_decoding_message_size(limit);
                    self
                }

                /// Limits the size of an encoded response message (default: `usize::MAX`).
                #[must_use]
                pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                    self.core.config.max_encoding_message_size(limit);
                    self
                }
            }

            impl<T> #rt::Clone for #server<T> {
                fn clone(&self) -> Self {
                    Self {
                        inner: #rt::Arc::clone(&self.inner),
                        core: self.core.clone(),
                    }
                }
            }

            impl<T> #rt::tonic::server::NamedService for #server<T> {
                const NAME: &'static str = super::#methods_module::SERVICE_NAME;
            }

            impl<T, B> #rt::Service<#rt::http::Request<B>> for #server<T>
            where
                T: #trait_name,
                B: #rt::Body + #rt::Send + 'static,
                B::Error: #rt::Into<#rt::StdError> + #rt::Send + 'static,
            {
                type Response = #rt::http::Response<#rt::tonic::body::Body>;
                type Error = #rt::Infallible;
                type Future = #rt::ServerFuture;

                fn poll_ready(
                    &mut self,
                    _cx: &mut #rt::Context<'_>,
                ) -> #rt::Poll<#rt::Result<(), Self::Error>> {
                    #rt::Poll::Ready(Ok(()))
                }

                fn call(&mut self, req: #rt::http::Request<B>) -> Self::Future {
                    #dispatch
                }
            }
        }
    }
}

/// The request and response types of one method, as the handler sees them.
struct Signature {
    /// `tonic::Request<Req>` or `tonic::Request<tonic::Streaming<Req>>`.
    request: TokenStream,
    /// The message type the server sends.
    response_message: TokenStream,
    /// For server-streaming methods: the stream type, as named inside the trait.
    stream_in_trait: Option<TokenStream>,
}

impl Signature {
    fn new(cx: &Context<'_>, method: &Method) -> Self {
        let rt = &cx.rt;
        let input = nested_type(&method.input);
        let output = nested_type(&method.output);
        let request = if method.client_streaming {
            quote!(#rt::tonic::Request<#rt::tonic::Streaming<#input>>)
        } else {
            quote!(#rt::tonic::Request<#input>)
        };
        let stream_in_trait = match (method.server_streaming, cx.options.default_stubs) {
            (false, _) => None,
            // An associated type cannot have a default, so stubbed services stream boxed.
            (true, true) => Some(quote!(#rt::BoxStream<#output>)),
            (true, false) => {
                let stream = names::ident(&method.names.stream);
                Some(quote!(Self::#stream))
            }
        };
        Self {
            request,
            response_message: output,
            stream_in_trait,
        }
    }
}

fn trait_items(cx: &Context<'_>, method: &Method) -> TokenStream {
    let rt = &cx.rt;
    let signature = Signature::new(cx, method);
    let function = names::ident(&method.names.function);
    let request = &signature.request;
    let message = &signature.response_message;
    let response = match &signature.stream_in_trait {
        Some(stream) => quote!(#rt::tonic::Response<#stream>),
        None => quote!(#rt::tonic::Response<#message>),
    };
    let stream_type = (method.server_streaming && !cx.options.default_stubs).then(|| {
        let stream = names::ident(&method.names.stream);
        let doc = doc(&format!("The response stream of `{}`.", method.names.function));
        quote! {
            #doc
            type #stream: #rt::tokio_stream::Stream<Item = #rt::Result<#message, #rt::tonic::Status>>
                + #rt::Send
                + 'static;
        }
    });
    let body = if cx.options.default_stubs {
        let unimplemented = format!("`{}` is not implemented", method.proto_name);
        quote! {{
            let _ = request;
            #rt::ready(Err(#rt::tonic::Status::unimplemented(#unimplemented)))
        }}
    } else {
        quote!(;)
    };
    let docs = doc_attrs(&method.comments, &[]);
    let deprecated = method.deprecated.then(|| quote!(#[deprecated]));
    quote! {
        #stream_type
        #docs
        #deprecated
        fn #function(
            &self,
            request: #request,
        ) -> impl #rt::Future<
            Output = #rt::Result<#response, #rt::tonic::Status>,
        > + #rt::Send #body
    }
}

/// The `match` arm that serves one method: the runtime runs the interceptors and the handler,
/// driven by tonic's codec machinery for the method's streaming kind.
fn dispatch_arm(cx: &Context<'_>, service: &Service, method: &Method) -> TokenStream {
    let rt = &cx.rt;
    let path = service.path(method);
    let trait_name = names::ident(&service.names.trait_name);
    let methods_module = names::ident(&service.names.methods_module);
    let constant = names::ident(&method.names.constant);
    let function = names::ident(&method.names.function);
    let serve = match (method.client_streaming, method.server_streaming) {
        (false, false) => quote!(unary),
        (false, true) => quote!(server_streaming),
        (true, false) => quote!(client_streaming),
        (true, true) => quote!(streaming),
    };
    quote! {
        #path => self.core.#serve(
            &self.inner,
            &super::#methods_module::#constant,
            req,
            |inner: #rt::Arc<T>, request| async move {
                <T as #trait_name>::#function(&inner, request).await
            },
        ),
    }
}
