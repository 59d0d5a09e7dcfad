//! The `<service>_client` module: a tonic client with one async method per RPC, running the
//! client interceptor chain before each call leaves.

use proc_macro2::TokenStream;
use quote::quote;

use super::text::{self, Lines, Tail, Ty};
use super::{Context, nested_type};
use crate::docs::{doc, doc_attrs, doc_lines};
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
    let module_doc = doc(&module_doc(service));
    let client_doc = doc_attrs(&service.comments, &[&client_doc(service)]);
    // The fixed items are written once, as the text the text path writes.
    let fixed = |text: &str| -> TokenStream {
        text.parse()
            .expect("the client's fixed items are Rust (the golden files compile them)")
    };
    let (connect, where_clause, builders) = (fixed(CONNECT), fixed(WHERE), fixed(BUILDERS));
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
                #connect
            }

            impl<T> #client<T>
            #where_clause
            {
                #builders
                #(#methods)*
            }
        }
    }
}

fn module_doc(service: &Service) -> String {
    format!("Client side of `{}`.", service.full_name)
}

fn client_doc(service: &Service) -> String {
    format!("Client for `{}`.", service.full_name)
}

fn calls_doc(service: &Service, method: &Method) -> String {
    format!("Calls `{}`.", service.path(method))
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
    let send = names::ident(method.core_call());
    let docs = doc_attrs(&method.comments, &[&calls_doc(service, method)]);
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

/// The body of `impl Client<Channel>`, a step in from the module's items, as prettyplease lays
/// it out (the text path writes it as it is; the token path parses it).
const CONNECT: &str = concat!(
    "    /// Connects to `dst` (such as `\"http://127.0.0.1:50051\"`); interceptors learn\n",
    "    /// from its scheme whether the channel is TLS.\n",
    "    pub async fn connect<D>(dst: D) -> rt::Result<Self, rt::tonic::transport::Error>\n",
    "    where\n",
    "        D: rt::TryInto<rt::tonic::transport::Endpoint>,\n",
    "        D::Error: rt::Into<rt::StdError>,\n",
    "    {\n",
    "        let endpoint = rt::tonic::transport::Endpoint::new(dst)?;\n",
    "        let origin = endpoint.uri().clone();\n",
    "        Ok(Self::with_origin(endpoint.connect().await?, origin))\n",
    "    }\n",
);

/// The `where` clause of `impl<T> Client<T>`.
const WHERE: &str = concat!(
    "where\n",
    "    T: rt::tonic::client::GrpcService<rt::tonic::body::Body> + rt::Send,\n",
    "    T::Future: rt::Send,\n",
    "    T::Error: rt::Into<rt::StdError>,\n",
    "    T::ResponseBody: rt::Body<Data = rt::Bytes> + rt::Send + 'static,\n",
    "    <T::ResponseBody as rt::Body>::Error: rt::Into<rt::StdError> + rt::Send,\n",
);

/// The builder methods of `impl<T> Client<T>`, a step in from the module's items.
const BUILDERS: &str = concat!(
    "    /// Sends calls over `inner`, such as a `tonic::transport::Channel`.\n",
    "    pub fn new(inner: T) -> Self {\n",
    "        Self {\n",
    "            inner: rt::ClientCore::new(inner),\n",
    "        }\n",
    "    }\n",
    "    /// Sends calls over `inner` to `origin`, for transports that need the authority; its\n",
    "    /// scheme (`https` or `http`) tells interceptors whether the channel is TLS.\n",
    "    pub fn with_origin(inner: T, origin: rt::http::Uri) -> Self {\n",
    "        Self {\n",
    "            inner: rt::ClientCore::with_origin(inner, origin),\n",
    "        }\n",
    "    }\n",
    "    /// Runs `interceptor` on the head of every call, before it is sent, after the head\n",
    "    /// interceptors added before it.\n",
    "    #[must_use]\n",
    "    pub fn with_head_interceptor(\n",
    "        mut self,\n",
    "        interceptor: impl rt::HeadInterceptor,\n",
    "    ) -> Self {\n",
    "        self.inner.interceptors = self.inner.interceptors.with_head(interceptor);\n",
    "        self\n",
    "    }\n",
    "    /// Runs `interceptor` around every call, inside the call interceptors added before it.\n",
    "    #[must_use]\n",
    "    pub fn with_call_interceptor(\n",
    "        mut self,\n",
    "        interceptor: impl rt::CallInterceptor,\n",
    "    ) -> Self {\n",
    "        self.inner.interceptors = self.inner.interceptors.with_call(interceptor);\n",
    "        self\n",
    "    }\n",
    "    /// Replaces the interceptors with `interceptors`.\n",
    "    #[must_use]\n",
    "    pub fn with_interceptors(mut self, interceptors: rt::Interceptors) -> Self {\n",
    "        self.inner.interceptors = interceptors;\n",
    "        self\n",
    "    }\n",
    "    /// Compresses requests with `encoding`; the server must accept it.\n",
    "    #[must_use]\n",
    "    pub fn send_compressed(mut self, encoding: rt::CompressionEncoding) -> Self {\n",
    "        self.inner = self.inner.send_compressed(encoding);\n",
    "        self\n",
    "    }\n",
    "    /// Tells the server that responses may be compressed with `encoding`.\n",
    "    #[must_use]\n",
    "    pub fn accept_compressed(mut self, encoding: rt::CompressionEncoding) -> Self {\n",
    "        self.inner = self.inner.accept_compressed(encoding);\n",
    "        self\n",
    "    }\n",
    "    /// Limits the size of a decoded response message (default: 4 MiB).\n",
    "    #[must_use]\n",
    "    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {\n",
    "        self.inner = self.inner.max_decoding_message_size(limit);\n",
    "        self\n",
    "    }\n",
    "    /// Limits the size of an encoded request message (default: `usize::MAX`).\n",
    "    #[must_use]\n",
    "    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {\n",
    "        self.inner = self.inner.max_encoding_message_size(limit);\n",
    "        self\n",
    "    }\n",
);

/// The module written out in prettyplease's layout, or `None` where a name, type or comment is
/// beyond the layout this writer knows (the module is then printed from [`generate_client`]).
pub(super) fn client_text(runtime: &str, service: &Service) -> Option<String> {
    let client = &service.names.client;
    let mut code = Lines::new();
    code.doc(&module_doc(service));
    code.open(&format!("pub mod {} {{", service.names.client_module));
    if service.has_deprecated() {
        code.line("#![allow(deprecated)]");
    }
    code.line(&format!("use {runtime}::__codegen as rt;"));
    code.doc_values(&doc_lines(&service.comments, &[&client_doc(service)]))?;
    if service.deprecated {
        code.line("#[deprecated]");
    }
    code.line("#[derive(Debug, Clone)]");
    code.open(&format!("pub struct {client}<T> {{"));
    code.line("inner: rt::ClientCore<T>,");
    code.close("}");
    let header = format!("impl {client}<rt::tonic::transport::Channel> {{");
    if !code.fits(&header) {
        return None;
    }
    code.line(&header);
    code.block(CONNECT);
    code.line("}");
    code.line(&format!("impl<T> {client}<T>"));
    code.block(WHERE);
    code.line("{");
    code.block(BUILDERS);
    code.indent_in();
    for method in &service.methods {
        client_method_text(&mut code, service, method)?;
    }
    code.close("}");
    code.close("}");
    Some(code.out)
}

fn client_method_text(code: &mut Lines, service: &Service, method: &Method) -> Option<()> {
    let input = text::type_text(&method.input, true)?;
    let output = text::type_text(&method.output, true)?;
    let (request, into_request) = if method.client_streaming {
        (
            Ty::generic(
                "impl rt::tonic::IntoStreamingRequest",
                [Ty::word(format!("Message = {input}"))],
            ),
            "into_streaming_request",
        )
    } else {
        (
            Ty::generic("impl rt::tonic::IntoRequest", [Ty::word(input)]),
            "into_request",
        )
    };
    let response = if method.server_streaming {
        Ty::generic("rt::tonic::codec::Streaming", [Ty::word(output)])
    } else {
        Ty::word(output)
    };
    let returns = Ty::generic(
        "rt::Result",
        [
            Ty::generic("rt::tonic::Response", [response]),
            Ty::word("rt::tonic::Status"),
        ],
    );
    code.doc_values(&doc_lines(&method.comments, &[&calls_doc(service, method)]))?;
    if method.deprecated {
        code.line("#[deprecated]");
    }
    code.open(&format!("pub async fn {}(", method.names.function));
    code.line("&mut self,");
    request.write(code, "request: ", Tail::LastComma);
    code.outdent();
    returns.write(code, ") -> ", Tail::Text(" {"));
    code.indent_in();
    let call = format!(
        "{}(&super::{}::{}, request.{into_request}())",
        method.core_call(),
        service.names.methods_module,
        method.names.constant
    );
    if code.fits(&format!("self.inner.{call}.await")) {
        code.line(&format!("self.inner.{call}.await"));
    } else {
        code.line("self.inner");
        code.indent_in();
        if code.fits(&format!(".{call}")) {
            code.line(&format!(".{call}"));
        } else {
            code.open(&format!(".{}(", method.core_call()));
            code.line(&format!(
                "&super::{}::{},",
                service.names.methods_module, method.names.constant
            ));
            code.line(&format!("request.{into_request}(),"));
            code.close(")");
        }
        code.line(".await");
        code.outdent();
    }
    code.close("}");
    Some(())
}
