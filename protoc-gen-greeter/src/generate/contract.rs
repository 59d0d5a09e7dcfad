//! The `<service>_contract` module: what the service and its methods declare with
//! `(greeter.defaults)` and `(greeter.contract)`. Per method with a contract, a module holding
//! its typed metadata (`RequestMetadata`, `Header`, `Trailer`) and its `Error` enum (one variant
//! per declared error, `Other` for any other status); the service defaults' metadata at the top.
//! And the [`Detail`](greeter_runtime::status::Detail) impls that let every message of a package
//! travel as a status detail.

use proc_macro2::TokenStream;
use quote::quote;

use super::Context;
use crate::contract::{DetailType, ErrorCase, Field, FieldType, Section, Sections};
use crate::docs::doc;
use crate::model::{Method, Service};
use crate::names;

/// The contract module of `service`, or nothing when it declares nothing.
pub(super) fn generate_contract_module(cx: &Context<'_>, service: &Service) -> Option<TokenStream> {
    let methods: Vec<TokenStream> = service
        .methods
        .iter()
        .filter(|method| !method.contract.is_empty())
        .map(|method| method_module(cx, service, method))
        .collect();
    if methods.is_empty() && service.defaults.is_empty() {
        return None;
    }
    let (defaults, uses_rt) = metadata_structs(
        cx,
        &service.defaults,
        None,
        1,
        &format!("every method of `{}`", service.full_name),
    );
    let rt_import = uses_rt.then(|| cx.rt_import.clone());
    let module = names::ident(&service.names.contract_module);
    let module_doc = doc(&format!(
        "What the methods of `{}` declare with `(greeter.contract)`: one module per method. \
         The metadata here is what `(greeter.defaults)` declares for all of them.",
        service.full_name
    ));
    Some(quote! {
        #module_doc
        pub mod #module {
            #rt_import
            #defaults
            #(#methods)*
        }
    })
}

/// The typed metadata structs of `sections`, in a module `depth` below the package module;
/// `owner` says whose they are in their docs. A section the same as the service's `defaults` is
/// their struct, aliased. Also whether any struct is written here (and needs the `rt` alias).
fn metadata_structs(
    cx: &Context<'_>,
    sections: &Sections,
    defaults: Option<&Sections>,
    depth: usize,
    owner: &str,
) -> (TokenStream, bool) {
    let mut writes_struct = false;
    let structs: Vec<TokenStream> = sections
        .named()
        .into_iter()
        .filter(|(_, fields)| !fields.is_empty())
        .map(|(section, fields)| {
            let inherited = defaults.is_some_and(|defaults| defaults.section(section) == fields);
            writes_struct |= !inherited;
            if inherited {
                let name = names::ident(section.struct_name());
                let alias_doc = doc(&format!(
                    "The service's [`{0}`](super::{0}): {owner} declares no other.",
                    section.struct_name()
                ));
                quote! {
                    #alias_doc
                    pub type #name = super::#name;
                }
            } else {
                metadata_struct(cx, section, fields, depth, owner)
            }
        })
        .collect();
    (quote!(#(#structs)*), writes_struct)
}

fn metadata_struct(
    cx: &Context<'_>,
    section: Section,
    fields: &[Field],
    depth: usize,
    owner: &str,
) -> TokenStream {
    let rt = &cx.rt;
    let what = match section {
        Section::Request => "The request metadata clients send to",
        Section::Header => "The response headers servers send for",
        Section::Trailer => "The response trailers servers send for",
    };
    let name = names::ident(section.struct_name());
    let struct_doc = doc(&format!(
        "{what} {owner}, typed. `from_metadata` reads it (an error names a key that is \
         missing, malformed or repeated), `write_to` writes it."
    ));
    let idents: Vec<_> = fields.iter().map(|f| names::ident(&f.name)).collect();
    let constants: Vec<_> = fields
        .iter()
        .map(|f| {
            let base = f.key.strip_suffix("-bin").unwrap_or(&f.key);
            names::ident(&names::sanitize(&names::shouty(base)))
        })
        .collect();
    let definitions = fields.iter().zip(&idents).map(|(field, ident)| {
        let value = value_type(cx, &field.ty, depth);
        let ty = if field.repeated {
            quote!(#rt::Vec<#value>)
        } else if field.required {
            value
        } else {
            quote!(#rt::Option<#value>)
        };
        let how = match (field.required, field.repeated) {
            (true, false) => "required",
            (false, false) => "optional",
            (true, true) => "one value or more",
            (false, true) => "any number of values",
        };
        let summary = format!("`{}`: {}, {how}.", field.key, type_words(&field.ty));
        let field_doc = if field.doc.is_empty() {
            doc(&summary)
        } else {
            doc(&format!("{}\n\n{summary}", field.doc.trim()))
        };
        quote! {
            #field_doc
            pub #ident: #ty
        }
    });
    let keys = fields.iter().zip(&constants).map(|(field, constant)| {
        let codec_type = codec_type(cx, &field.ty, depth);
        let codec = codec_value(cx, &field.ty, depth);
        let key = &field.key;
        let key_doc = doc(&format!("The `{key}` key."));
        quote! {
            #key_doc
            pub const #constant: #rt::metadata::Key<#codec_type> =
                #rt::metadata::Key::from_static(#key, #codec);
        }
    });
    let reads = fields
        .iter()
        .zip(&idents)
        .zip(&constants)
        .map(|((field, ident), constant)| {
            let read = names::ident(match (field.required, field.repeated) {
                (true, false) => "require",
                (false, false) => "get",
                (true, true) => "require_all",
                (false, true) => "get_all",
            });
            quote!(#ident: Self::#constant.#read(metadata)?)
        });
    let writes = fields
        .iter()
        .zip(&idents)
        .zip(&constants)
        .map(|((field, ident), constant)| {
            if field.required && !field.repeated {
                quote!(Self::#constant.insert(metadata, &self.#ident);)
            } else {
                quote!(Self::#constant.insert_all(metadata, &self.#ident);)
            }
        });
    let derive_default = fields.iter().all(|f| !f.required).then(|| quote!(Default,));
    let section_methods = match section {
        Section::Request => quote! {
            /// Reads the request metadata of `request`.
            pub fn from_request<T>(request: &#rt::tonic::Request<T>) -> #rt::Result<Self, #rt::metadata::MetadataError> {
                Self::from_metadata(request.metadata())
            }

            /// Checks `metadata` as `from_metadata` reads it. Generated servers run it on
            /// every call before its handler, and answer a failure INVALID_ARGUMENT.
            pub fn check(metadata: &#rt::tonic::metadata::MetadataMap) -> #rt::Result<(), #rt::metadata::MetadataError> {
                Self::from_metadata(metadata).map(|_| ())
            }
        },
        Section::Header => quote! {
            /// Reads the headers of `response`.
            pub fn from_response<T>(response: &#rt::tonic::Response<T>) -> #rt::Result<Self, #rt::metadata::MetadataError> {
                Self::from_metadata(response.metadata())
            }

            /// Writes the headers into `response`.
            pub fn send<T>(&self, response: &mut #rt::tonic::Response<T>) {
                self.write_to(response.metadata_mut());
            }
        },
        Section::Trailer => quote! {
            /// Reads the trailers a generated client received with the single response of a
            /// unary or client-streaming call (a response stream gives its trailers from
            /// `Streaming::trailers`; a failed call's are in `Status::metadata`).
            pub fn from_response<T>(response: &#rt::tonic::Response<T>) -> #rt::Result<Self, #rt::metadata::MetadataError> {
                Self::from_metadata(&#rt::ResponseExt::trailers(response).unwrap_or_default())
            }

            /// Writes the trailers into those `response` ends with. A stream that knows them
            /// only at its end writes into the handle `ResponseExt::trailers_mut` gives.
            pub fn send<T>(&self, response: &mut #rt::tonic::Response<T>) {
                self.write_to(&mut #rt::ResponseExt::trailers_mut(response).lock());
            }

            /// Writes the trailers into a status the call ends with.
            pub fn attach_to(&self, status: &mut #rt::tonic::Status) {
                self.write_to(status.metadata_mut());
            }
        },
    };
    quote! {
        #struct_doc
        #[derive(Debug, Clone, PartialEq, #derive_default)]
        pub struct #name {
            #(#definitions,)*
        }

        impl #name {
            #(#keys)*

            /// Reads the declared keys from `metadata`.
            pub fn from_metadata(metadata: &#rt::tonic::metadata::MetadataMap) -> #rt::Result<Self, #rt::metadata::MetadataError> {
                #rt::Result::Ok(Self {
                    #(#reads,)*
                })
            }

            /// Writes the declared keys into `metadata`, replacing what they held (an absent
            /// value removes its key).
            pub fn write_to(&self, metadata: &mut #rt::tonic::metadata::MetadataMap) {
                #(#writes)*
            }

            #section_methods
        }
    }
}

/// How a field's docs name its type.
fn type_words(ty: &FieldType) -> String {
    match ty {
        FieldType::Enum(t) => format!("enum `{}` by value name", t.full_name),
        FieldType::Message(t) => format!("message `{}`, encoded", t.full_name),
        other => other.proto_name().to_ascii_lowercase(),
    }
}

/// The Rust type of one value.
fn value_type(cx: &Context<'_>, ty: &FieldType, depth: usize) -> TokenStream {
    let rt = &cx.rt;
    match ty {
        FieldType::String => quote!(#rt::String),
        FieldType::Int64 => quote!(i64),
        FieldType::Uint64 => quote!(u64),
        FieldType::Bool => quote!(bool),
        FieldType::Double => quote!(f64),
        FieldType::Bytes => quote!(#rt::Vec<u8>),
        FieldType::Duration => quote!(#rt::Duration),
        FieldType::Timestamp => quote!(#rt::SystemTime),
        FieldType::Enum(t) | FieldType::Message(t) => user_type(&t.path, t.relative, depth),
    }
}

/// The codec type of a key.
fn codec_type(cx: &Context<'_>, ty: &FieldType, depth: usize) -> TokenStream {
    let rt = &cx.rt;
    let name = match ty {
        FieldType::Enum(t) => {
            let ty = user_type(&t.path, t.relative, depth);
            return quote!(#rt::metadata::codec::Enum<#ty>);
        }
        FieldType::Message(t) => {
            let ty = user_type(&t.path, t.relative, depth);
            return quote!(#rt::metadata::codec::Message<#ty>);
        }
        FieldType::String => "Str",
        FieldType::Int64 => "Int64",
        FieldType::Uint64 => "Uint64",
        FieldType::Bool => "Bool",
        FieldType::Double => "Double",
        FieldType::Bytes => "Bytes",
        FieldType::Duration => "Duration",
        FieldType::Timestamp => "Timestamp",
    };
    let name = names::ident(name);
    quote!(#rt::metadata::codec::#name)
}

/// The codec value of a key.
fn codec_value(cx: &Context<'_>, ty: &FieldType, depth: usize) -> TokenStream {
    let rt = &cx.rt;
    match ty {
        FieldType::Enum(t) => {
            let ty = user_type(&t.path, t.relative, depth);
            let name = &t.full_name;
            quote!(#rt::metadata::codec::Enum::new(#name, <#ty>::as_str_name, <#ty>::from_str_name))
        }
        FieldType::Message(t) => {
            let name = &t.full_name;
            quote!(#rt::metadata::codec::Message::new(#name))
        }
        other => codec_type(cx, other, depth),
    }
}

/// A user's type from a module `depth` below the package module.
fn user_type(path: &str, relative: bool, depth: usize) -> TokenStream {
    let path = if relative {
        format!("{}{path}", "super::".repeat(depth))
    } else {
        path.to_owned()
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

fn method_module(cx: &Context<'_>, service: &Service, method: &Method) -> TokenStream {
    let rt_import = &cx.rt_import;
    let module = names::ident(&method.names.function);
    let full_name = format!("{}.{}", service.full_name, method.proto_name);
    let module_doc = doc(&format!("The contract of `{full_name}`."));
    let (metadata, uses_rt) = metadata_structs(
        cx,
        &method.contract.fields,
        Some(&service.defaults),
        2,
        &format!("`{full_name}`"),
    );
    let error = (!method.contract.errors.is_empty()).then(|| error_enum(cx, method, &full_name));
    let rt_import = (uses_rt || error.is_some()).then_some(rt_import);
    quote! {
        #module_doc
        pub mod #module {
            #rt_import
            #metadata
            #error
        }
    }
}

/// The `Error` enum of a method with declared errors.
fn error_enum(cx: &Context<'_>, method: &Method, full_name: &str) -> TokenStream {
    let rt = &cx.rt;
    let enum_doc = doc(&format!(
        "The errors `{full_name}` declares, and any other status as `Other`. Handlers return \
         it with `?` or `.into()`; clients read a status with [`Error::from_status`]."
    ));
    let cases = &method.contract.errors;
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

/// The Rust type of a detail, from inside a method's module (two below the package module).
fn detail_type(cx: &Context<'_>, detail: &DetailType) -> TokenStream {
    let rt = &cx.rt;
    match detail {
        DetailType::Standard(name) => {
            let name = names::ident(name);
            quote!(#rt::status::#name)
        }
        DetailType::Message { path, relative } => user_type(path, *relative, 2),
    }
}

/// `impl Detail` for each message of a package, given as (proto full name, Rust path from the
/// package module), written in prettyplease's layout: there is one per message (33,459 on
/// googleapis), each too plain to be worth parsing and formatting. `runtime` is the runtime
/// crate's path as prettyplease writes it. A path that is not a Rust path gets no impl.
pub(super) fn detail_impls(runtime: &str, messages: &[(String, String)]) -> String {
    let mut out = String::new();
    for (full_name, path) in messages {
        let rust_path = path
            .split("::")
            .all(|segment| segment == "super" || syn::parse_str::<syn::Ident>(segment).is_ok());
        // Full names are identifiers joined by dots: nothing in them needs escaping.
        let plain_name = full_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !rust_path || !plain_name {
            continue;
        }
        let header = format!("impl {runtime}::__codegen::Detail for {path} {{");
        if header.len() <= crate::format::MARGIN {
            out.push_str(&header);
        } else {
            // prettyplease breaks a long impl header before `for`, at the item's indentation.
            out.push_str(&format!("impl {runtime}::__codegen::Detail\nfor {path} {{"));
        }
        out.push_str(&format!(
            "\n    const TYPE_NAME: &'static str = \"{full_name}\";\n}}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written out, the impls are what prettyplease makes of them, on either side of the width
    /// at which it breaks the header; paths that are not Rust paths get none.
    #[test]
    fn detail_impls_are_laid_out_as_prettyplease_lays_them_out() {
        let mut messages: Vec<(String, String)> = (30..60)
            .map(|len| {
                let name = format!("M{}", "x".repeat(len - 1));
                (format!("pkg.{name}"), format!("super::{name}"))
            })
            .collect();
        messages.push(("pkg.Outer.Type".to_owned(), "outer::r#Type".to_owned()));
        messages.push(("pkg.Long".to_owned(), format!("{}::Long", "m".repeat(90))));
        for runtime in ["::greeter_runtime", "crate::rt"] {
            let path: syn::Path = syn::parse_str(runtime).unwrap();
            let impls = messages.iter().map(|(full_name, rust)| {
                let ty: syn::Type = syn::parse_str(rust).unwrap();
                quote! {
                    impl #path::__codegen::Detail for #ty {
                        const TYPE_NAME: &'static str = #full_name;
                    }
                }
            });
            let expected = prettyplease::unparse(&syn::parse_quote!(#(#impls)*));
            assert_eq!(detail_impls(runtime, &messages), expected);
        }
        let odd = [
            ("pkg.Type".to_owned(), "type::Type".to_owned()),
            ("pkg.A".to_owned(), "a b".to_owned()),
            ("pkg.\"A".to_owned(), "A".to_owned()),
        ];
        assert_eq!(detail_impls("::greeter_runtime", &odd), "");
    }
}
