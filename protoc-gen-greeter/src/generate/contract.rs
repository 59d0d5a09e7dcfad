//! The `<service>_contract` module: per method with declared errors, a module holding its
//! `Error` enum (one variant per declared error, `Other` for any other status), convertible to
//! and from `tonic::Status`. And the [`Detail`](greeter_runtime::status::Detail) impls that let
//! every message of a package travel as a status detail.

use proc_macro2::TokenStream;
use quote::quote;

use super::Context;
use crate::contract::{DetailType, ErrorCase};
use crate::docs::doc;
use crate::model::{Method, Service};
use crate::names;

/// The contract module of `service`, or nothing when no method declares errors.
pub(super) fn generate_contract_module(cx: &Context<'_>, service: &Service) -> Option<TokenStream> {
    let methods: Vec<TokenStream> = service
        .methods
        .iter()
        .filter(|method| !method.errors.is_empty())
        .map(|method| method_module(cx, service, method))
        .collect();
    if methods.is_empty() {
        return None;
    }
    let module = names::ident(&service.names.contract_module);
    let module_doc = doc(&format!(
        "What the methods of `{}` declare with `(greeter.contract)`: one module per method.",
        service.full_name
    ));
    Some(quote! {
        #module_doc
        pub mod #module {
            #(#methods)*
        }
    })
}

fn method_module(cx: &Context<'_>, service: &Service, method: &Method) -> TokenStream {
    let rt = &cx.rt;
    let rt_import = &cx.rt_import;
    let module = names::ident(&method.names.function);
    let full_name = format!("{}.{}", service.full_name, method.proto_name);
    let module_doc = doc(&format!("The contract of `{full_name}`."));
    let enum_doc = doc(&format!(
        "The errors `{full_name}` declares, and any other status as `Other`. Handlers return \
         it with `?` or `.into()`; clients read a status with [`Error::from_status`]."
    ));
    let cases = &method.errors;
    let variants: Vec<_> = cases
        .iter()
        .map(|case| names::ident(&case.variant))
        .collect();
    let codes: Vec<_> = cases
        .iter()
        .map(|case| names::ident(&case.tonic_code()))
        .collect();
    let definitions = cases.iter().zip(&variants).map(|(case, variant)| {
        let variant_doc = doc(&match &case.detail {
            Some(detail) => format!("`{}` with a `{}` detail.", case.code, detail.full_name),
            None => format!("`{}`.", case.code),
        });
        match &case.detail {
            Some(detail) => {
                let ty = detail_type(cx, &detail.rust);
                quote! {
                    #variant_doc
                    #variant {
                        /// The status message.
                        message: #rt::String,
                        /// The status detail.
                        detail: #ty,
                    }
                }
            }
            None => quote! {
                #variant_doc
                #variant {
                    /// The status message.
                    message: #rt::String,
                }
            },
        }
    });
    // Variants with a detail are tried first: a status with the detail is the more specific.
    let mut readers: Vec<&ErrorCase> = cases.iter().filter(|c| c.detail.is_some()).collect();
    readers.extend(cases.iter().filter(|c| c.detail.is_none()));
    let reads = readers.iter().map(|case| {
        let variant = names::ident(&case.variant);
        let code = names::ident(&case.tonic_code());
        match &case.detail {
            Some(_) => quote! {
                if let #rt::Some((message, detail)) = #rt::contract::detail(status, #rt::tonic::Code::#code) {
                    return Self::#variant { message, detail };
                }
            },
            None => quote! {
                if let #rt::Some(message) = #rt::contract::code(status, #rt::tonic::Code::#code) {
                    return Self::#variant { message };
                }
            },
        }
    });
    let into_status = cases.iter().zip(&variants).zip(&codes).map(|((case, variant), code)| {
        match &case.detail {
            Some(_) => quote! {
                Error::#variant { message, detail } => #rt::contract::status(#rt::tonic::Code::#code, message, detail)
            },
            None => quote! {
                Error::#variant { message } => #rt::tonic::Status::new(#rt::tonic::Code::#code, message)
            },
        }
    });
    quote! {
        #module_doc
        pub mod #module {
            #rt_import
            #enum_doc
            #[derive(Debug, Clone)]
            pub enum Error {
                #(#definitions,)*
                /// Any status the contract does not declare, or a declared code without its
                /// detail.
                Other(#rt::tonic::Status),
            }

            impl Error {
                /// Reads `status` as this method's error: the declared variant its code (and
                /// detail, when one is declared) matches, else `Other`.
                pub fn from_status(status: &#rt::tonic::Status) -> Self {
                    #(#reads)*
                    Self::Other(#rt::Clone::clone(status))
                }

                /// The status code.
                pub fn code(&self) -> #rt::tonic::Code {
                    match self {
                        #(Self::#variants { .. } => #rt::tonic::Code::#codes,)*
                        Self::Other(status) => status.code(),
                    }
                }

                /// The status message.
                pub fn message(&self) -> &str {
                    match self {
                        #(Self::#variants { message, .. } => message,)*
                        Self::Other(status) => status.message(),
                    }
                }
            }

            impl #rt::From<Error> for #rt::tonic::Status {
                fn from(error: Error) -> Self {
                    match error {
                        #(#into_status,)*
                        Error::Other(status) => status,
                    }
                }
            }

            impl #rt::From<#rt::tonic::Status> for Error {
                fn from(status: #rt::tonic::Status) -> Self {
                    Self::from_status(&status)
                }
            }

            impl #rt::fmt::Display for Error {
                fn fmt(&self, f: &mut #rt::fmt::Formatter<'_>) -> #rt::fmt::Result {
                    #rt::contract::display(f, self.code(), self.message())
                }
            }

            impl #rt::ErrorTrait for Error {}
        }
    }
}

/// The Rust type of a detail, from inside a method's module (two below the package module).
fn detail_type(cx: &Context<'_>, detail: &DetailType) -> TokenStream {
    let rt = &cx.rt;
    match detail {
        DetailType::Standard(name) => {
            let name = names::ident(name);
            quote!(#rt::status::#name)
        }
        DetailType::Message { path, relative } => {
            let path = if *relative {
                format!("super::super::{path}")
            } else {
                path.clone()
            };
            // The model checked that the path parses.
            match syn::parse_str::<syn::Type>(&path) {
                Ok(ty) => quote!(#ty),
                Err(_) => {
                    let message = format!("`{path}` is not a Rust type");
                    quote!(::core::compile_error!(#message))
                }
            }
        }
    }
}

/// `impl Detail` for each message of a package, given as (proto full name, Rust path from the
/// package module).
pub(super) fn detail_impls(cx: &Context<'_>, messages: &[(String, String)]) -> TokenStream {
    let runtime = &cx.runtime;
    let impls = messages.iter().filter_map(|(full_name, path)| {
        let ty = syn::parse_str::<syn::Type>(path).ok()?;
        Some(quote! {
            impl #runtime::__codegen::Detail for #ty {
                const TYPE_NAME: &'static str = #full_name;
            }
        })
    });
    quote!(#(#impls)*)
}
