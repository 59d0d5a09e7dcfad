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
    let routes = names::ident(&service.names.routes);
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
        quote! {
            let _ = (core, inner);
            #rt::ServerCore::unknown_method(req.uri().path())
        }
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
        "Serves a [`{}`] implementation as the gRPC service `{}`: `{}::new(handler)`, then \
         interceptors, compression and message size limits (`greeter_runtime::ServiceServer`).",
        service.names.trait_name, service.full_name, service.names.server
    ));
    let routes_doc = doc(&format!(
        "Which method of a [`{}`] implementation serves which path of `{}`.",
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
            pub type #server<T> = #rt::ServiceServer<T, #routes>;

            #routes_doc
            #deprecated
            #[derive(Debug, Clone, Copy)]
            pub struct #routes;

            impl<T: #trait_name> #rt::Routes<T> for #routes {
                const NAME: &'static str = super::#methods_module::SERVICE_NAME;

                fn route<B: #rt::RequestBody>(
                    core: &#rt::ServerCore,
                    inner: &#rt::Arc<T>,
                    req: #rt::http::Request<B>,
                ) -> #rt::ServerFuture {
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
        #path => core.#serve(
            inner,
            &super::#methods_module::#constant,
            req,
            |inner: #rt::Arc<T>, request| async move {
                <T as #trait_name>::#function(&inner, request).await
            },
        ),
    }
}
