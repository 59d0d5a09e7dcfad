//! The `<service>_methods` module: one `MethodInfo` constant per method, shared by server, client
//! and interceptors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Context;
use super::text::{Lines, literal};
use crate::docs::doc;
use crate::model::{Idempotency, Method, Service};
use crate::names;

pub(super) fn generate_methods_module(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let rt_import = &cx.rt_import;
    let module = names::ident(&service.names.methods_module);
    let service_name = &service.full_name;
    let module_doc = doc(&module_doc(service));
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

fn module_doc(service: &Service) -> String {
    format!(
        "Method descriptions of `{}`, for interceptors and tooling.",
        service.full_name
    )
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
    let kind = format_ident!("{}", method.streaming_kind());
    let idempotency = format_ident!("{}", idempotency(method));
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

/// The module written out in prettyplease's layout, or `None` where a name is too long for the
/// layout this writer knows (the module is then printed from [`generate_methods_module`]).
pub(super) fn methods_module_text(runtime: &str, service: &Service) -> Option<String> {
    let mut code = Lines::new();
    code.doc(&module_doc(service));
    code.open(&format!("pub mod {} {{", service.names.methods_module));
    code.line(&format!("use {runtime}::__codegen as rt;"));
    code.doc("Fully qualified name of the service.");
    code.line_of(&[
        "pub const SERVICE_NAME: &str = ",
        &literal(&service.full_name)?,
        ";",
    ]);
    for method in &service.methods {
        method_constant_text(&mut code, service, method)?;
    }
    code.doc("Every method of the service, in declaration order.");
    let constants: Vec<&str> = service
        .methods
        .iter()
        .map(|method| method.names.constant.as_str())
        .collect();
    let flat = format!(
        "pub const METHODS: &[rt::MethodInfo] = &[{}];",
        constants.join(", ")
    );
    if code.fits(&flat) {
        code.line(&flat);
    } else {
        code.open("pub const METHODS: &[rt::MethodInfo] = &[");
        for constant in constants {
            code.line_of(&[constant, ","]);
        }
        code.close("];");
    }
    code.close("}");
    Some(code.out)
}

fn method_constant_text(code: &mut Lines, service: &Service, method: &Method) -> Option<()> {
    let path = service.path(method);
    code.doc(&format!("`{path}`"));
    code.line_of(&[
        "pub const ",
        &method.names.constant,
        ": rt::MethodInfo = rt::MethodInfo::new(",
    ]);
    // The receiver of a broken method chain: its arguments two steps in, its `)` one.
    let arguments = [
        "SERVICE_NAME,".to_owned(),
        format!("{},", literal(&method.proto_name)?),
        format!("{},", literal(&path)?),
        format!("rt::StreamingKind::{},", method.streaming_kind()),
        format!("rt::Idempotency::{},", idempotency(method)),
    ];
    for argument in &arguments {
        code.line_of(&["        ", argument]);
    }
    code.open("    )");
    let check = (!method.contract.fields.request.is_empty()).then(|| {
        format!(
            "super::{}::{}::RequestMetadata::check",
            service.names.contract_module, method.names.function
        )
    });
    let types = [
        literal(&method.input_proto)?,
        literal(&method.output_proto)?,
    ];
    chain_call(code, ".with_message_types(", &types, check.is_none());
    if let Some(check) = check {
        chain_call(code, ".with_request_check(", &[check], true);
    }
    code.outdent();
    Some(())
}

/// One call of a broken method chain, `.name(arguments)` on a line if it fits, else one argument
/// a line; the last call of the chain ends the statement.
fn chain_call(code: &mut Lines, call: &str, arguments: &[String], last: bool) {
    let end = if last { ";" } else { "" };
    let flat = format!("{call}{}){end}", arguments.join(", "));
    if code.fits(&flat) {
        code.line(&flat);
    } else {
        code.open(call);
        for argument in arguments {
            code.line_of(&[argument, ","]);
        }
        code.close(&format!("){end}"));
    }
}

fn idempotency(method: &Method) -> &'static str {
    match method.idempotency {
        Idempotency::Unknown => "Unknown",
        Idempotency::NoSideEffects => "NoSideEffects",
        Idempotency::Idempotent => "Idempotent",
    }
}
