//! The `<service>_methods` module: one `MethodInfo` constant per method, shared by server, client
//! and interceptors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Context;
use crate::docs::doc;
use crate::model::{Idempotency, Method, Service};
use crate::names;

pub(super) fn generate_methods_module(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let rt_import = &cx.rt_import;
    let module = names::ident(&service.names.methods_module);
    let service_name = &service.full_name;
    let module_doc = doc(&format!(
        "Method descriptions of `{service_name}`, for interceptors and tooling."
    ));
    let constants: Vec<_> = service
        .methods
        .iter()
        .map(|method| names::ident(&method.names.constant))
        .collect();
    let definitions = service
        .methods
        .iter()
        .zip(&constants)
        .map(|(method, constant)| method_constant(cx, service, method, constant));
    quote! {
        #module_doc
        pub mod #module {
            #rt_import
            /// Fully qualified name of the service.
            pub const SERVICE_NAME: &str = #service_name;
            #(#definitions)*
            /// Every method of the service, in declaration order.
            pub const METHODS: &[#rt::MethodInfo] = &[#(#constants),*];
        }
    }
}

fn method_constant(
    cx: &Context<'_>,
    service: &Service,
    method: &Method,
    constant: &proc_macro2::Ident,
) -> TokenStream {
    let rt = &cx.rt;
    let path = service.path(method);
    let proto_name = &method.proto_name;
    let kind = format_ident!(
        "{}",
        match (method.client_streaming, method.server_streaming) {
            (false, false) => "Unary",
            (false, true) => "ServerStreaming",
            (true, false) => "ClientStreaming",
            (true, true) => "BidiStreaming",
        }
    );
    let idempotency = format_ident!(
        "{}",
        match method.idempotency {
            Idempotency::Unknown => "Unknown",
            Idempotency::NoSideEffects => "NoSideEffects",
            Idempotency::Idempotent => "Idempotent",
        }
    );
    let doc = doc(&format!("`{path}`"));
    let input = &method.input_proto;
    let output = &method.output_proto;
    // Servers check the request metadata the contract declares before the handler runs.
    let check = (!method.contract.fields.request.is_empty()).then(|| {
        let contract = names::ident(&service.names.contract_module);
        let module = names::ident(&method.names.function);
        quote!(.with_request_check(super::#contract::#module::RequestMetadata::check))
    });
    quote! {
        #doc
        pub const #constant: #rt::MethodInfo = #rt::MethodInfo::new(
            SERVICE_NAME,
            #proto_name,
            #path,
            #rt::StreamingKind::#kind,
            #rt::Idempotency::#idempotency,
        ).with_message_types(#input, #output)#check;
    }
}
