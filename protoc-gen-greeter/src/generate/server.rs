//! The `<service>_server` module: the service trait users implement and the tonic server that
//! dispatches to it, running the interceptor chain before every handler.

use proc_macro2::TokenStream;
use quote::quote;

use super::text::{self, Lines, Tail, Ty};
use super::{Context, nested_type};
use crate::docs::{doc, doc_attrs, doc_lines};
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
    let module_doc = doc(&module_doc(service));
    let trait_doc = doc_attrs(&service.comments, &[&implement_doc(service)]);
    let server_doc = doc(&server_doc(service));
    let routes_doc = doc(&routes_doc(service));
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

fn module_doc(service: &Service) -> String {
    format!("Server side of `{}`.", service.full_name)
}

fn implement_doc(service: &Service) -> String {
    format!(
        "Implement this to serve `{}`, then hand it to [`{}`].",
        service.full_name, service.names.server
    )
}

fn server_doc(service: &Service) -> String {
    format!(
        "Serves a [`{}`] implementation as the gRPC service `{}`: `{}::new(handler)`, then \
         interceptors, compression and message size limits (`greeter_runtime::ServiceServer`).",
        service.names.trait_name, service.full_name, service.names.server
    )
}

fn routes_doc(service: &Service) -> String {
    format!(
        "Which method of a [`{}`] implementation serves which path of `{}`.",
        service.names.trait_name, service.full_name
    )
}

fn stream_doc(method: &Method) -> String {
    format!("The response stream of `{}`.", method.names.function)
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
        let doc = doc(&stream_doc(method));
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
    let serve = names::ident(method.core_call());
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

/// The module written out in prettyplease's layout, or `None` where a name, type or comment is
/// beyond the layout this writer knows (the module is then printed from [`generate_server`]).
pub(super) fn server_text(cx: &Context<'_>, runtime: &str, service: &Service) -> Option<String> {
    // Stubbed services are rare; their bodies go through the token path.
    if cx.options.default_stubs {
        return None;
    }
    let names = &service.names;
    let mut code = Lines::new();
    code.doc(&module_doc(service));
    code.open(&format!("pub mod {} {{", names.server_module));
    if service.has_deprecated() {
        code.line("#![allow(deprecated)]");
    }
    code.line(&format!("use {runtime}::__codegen as rt;"));
    code.doc_values(&doc_lines(&service.comments, &[&implement_doc(service)]))?;
    if service.deprecated {
        code.line("#[deprecated]");
    }
    let header = format!(
        "pub trait {}: rt::Send + rt::Sync + 'static {{",
        names.trait_name
    );
    if service.methods.is_empty() {
        code.line_of(&[&header, "}"]);
    } else {
        code.open(&header);
        for method in &service.methods {
            trait_items_text(&mut code, method)?;
        }
        code.close("}");
    }
    code.doc(&server_doc(service));
    if service.deprecated {
        code.line("#[deprecated]");
    }
    let alias = Ty::generic(
        &format!("pub type {}<T> = rt::ServiceServer", names.server),
        [Ty::word("T"), Ty::word(&names.routes)],
    );
    alias.write(&mut code, "", Tail::Text(";"));
    code.doc(&routes_doc(service));
    if service.deprecated {
        code.line("#[deprecated]");
    }
    code.line("#[derive(Debug, Clone, Copy)]");
    code.line(&format!("pub struct {};", names.routes));
    code.open_impl(
        &format!("impl<T: {}> rt::Routes<T>", names.trait_name),
        &names.routes,
    )?;
    code.line(&format!(
        "const NAME: &'static str = super::{}::SERVICE_NAME;",
        names.methods_module
    ));
    code.open("fn route<B: rt::RequestBody>(");
    code.line("core: &rt::ServerCore,");
    code.line("inner: &rt::Arc<T>,");
    code.line("req: rt::http::Request<B>,");
    code.reopen(") -> rt::ServerFuture {");
    if service.methods.is_empty() {
        code.line("let _ = (core, inner);");
        code.line("rt::ServerCore::unknown_method(req.uri().path())");
    } else {
        code.open("match req.uri().path() {");
        for method in &service.methods {
            dispatch_arm_text(&mut code, service, method)?;
        }
        code.line("path => rt::ServerCore::unknown_method(path),");
        code.close("}");
    }
    code.close("}");
    code.close("}");
    code.close("}");
    Some(code.out)
}

fn trait_items_text(code: &mut Lines, method: &Method) -> Option<()> {
    let input = text::type_text(&method.input, true)?;
    let output = text::type_text(&method.output, true)?;
    let response = if method.server_streaming {
        let stream = &method.names.stream;
        code.doc(&stream_doc(method));
        let item = Ty::generic(
            "Item = rt::Result",
            [Ty::word(&*output), Ty::word("rt::tonic::Status")],
        );
        let head = format!("type {stream}: rt::tokio_stream::Stream<");
        let flat = format!("{head}{}>", item.flat());
        // The bounds a step in, the stream's arguments (when they break) two.
        if code.fits(&flat) {
            code.line(&flat);
            code.indent_in();
        } else {
            code.line(&head);
            code.indent_in();
            code.indent_in();
            item.write(code, "", Tail::LastComma);
            code.outdent();
            code.line(">");
        }
        code.line("+ rt::Send");
        code.line("+ 'static;");
        code.outdent();
        format!("Self::{stream}")
    } else {
        output
    };
    let request = if method.client_streaming {
        Ty::generic(
            "rt::tonic::Request",
            [Ty::generic("rt::tonic::Streaming", [Ty::word(input)])],
        )
    } else {
        Ty::generic("rt::tonic::Request", [Ty::word(input)])
    };
    code.doc_values(&doc_lines(&method.comments, &[]))?;
    if method.deprecated {
        code.line("#[deprecated]");
    }
    code.open(&format!("fn {}(", method.names.function));
    code.line("&self,");
    request.write(code, "request: ", Tail::LastComma);
    code.reopen(") -> impl rt::Future<");
    let output = Ty::generic(
        "Output = rt::Result",
        [
            Ty::generic("rt::tonic::Response", [Ty::word(response)]),
            Ty::word("rt::tonic::Status"),
        ],
    );
    output.write(code, "", Tail::LastComma);
    code.close("> + rt::Send;");
    Some(())
}

fn dispatch_arm_text(code: &mut Lines, service: &Service, method: &Method) -> Option<()> {
    let names = &service.names;
    code.open(&format!("{} => {{", text::literal(&service.path(method))?));
    code.open(&format!("core.{}(", method.core_call()));
    code.line("inner,");
    code.line(&format!(
        "&super::{}::{},",
        names.methods_module, method.names.constant
    ));
    code.line("req,");
    code.open("|inner: rt::Arc<T>, request| async move {");
    let call = format!(
        "<T as {}>::{}(&inner, request)",
        names.trait_name, method.names.function
    );
    if code.fits(&format!("{call}.await")) {
        code.line_of(&[&call, ".await"]);
    } else if code.fits(&call) {
        code.line(&call);
        code.line_of(&["    .await"]);
    } else {
        // A broken chain: the call's arguments two steps in, its `)` and `.await` one (the
        // path before the `(` has nowhere to break, however long).
        code.line_of(&[&call[..call.len() - "&inner, request)".len()]]);
        code.line("        &inner,");
        code.line("        request,");
        code.line("    )");
        code.line("    .await");
    }
    code.close("},");
    code.close(")");
    code.close("}");
    Some(())
}
