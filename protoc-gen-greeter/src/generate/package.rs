//! One chunk of packages: prost-build's messages, then per package the services, spliced into one
//! file and formatted.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use proc_macro2::TokenStream;
use prost_build::Module;
use quote::quote;

use super::{
    CODEGEN_VERSION, Context, DEFAULT_PACKAGE_FILE, GENERATOR_VERSION, GeneratedFile, PackagePlan,
    client, contract, hooks, methods, panic_message, server,
};
use crate::descriptors::Descriptors;
use crate::error::Error;
use crate::model::Service;
use crate::options::Options;

/// One package after prost-build: its messages' code and its services with their message types
/// resolved, ready to render on any thread.
pub(super) struct PackageParts {
    pub messages: String,
    pub services: Vec<prost_build::Service>,
}

/// Runs prost-build over `files` (the packages' own files and everything they import) and returns
/// the parts of each of `packages`, in order.
pub(super) fn build_packages(
    descriptors: &Descriptors,
    options: &Options,
    packages: &[PackagePlan],
    files: &[usize],
) -> Result<Vec<PackageParts>, Error> {
    let written: HashSet<usize> = packages
        .iter()
        .flat_map(|p| p.sources.iter().copied())
        .collect();
    // Every type a written file's fields name must be among the chunk's files (its own and what
    // they import): protoc and protox refuse files that name types they do not have, but a
    // request made otherwise may not, prost-build then panics, and the pool holds no fields.
    let (mut defined, mut named) = (HashSet::new(), HashMap::new());
    let requests = files
        .iter()
        .map(|&index| {
            let file = &descriptors.files[index];
            let own = written.contains(&index);
            let proto = if own {
                descriptors.decode(index)?
            } else {
                descriptors.decode_without_comments(index)?
            };
            let scope = match proto.package() {
                "" => String::new(),
                package => format!(".{package}"),
            };
            defined.extend(
                proto
                    .enum_type
                    .iter()
                    .map(|e| format!("{scope}.{}", e.name())),
            );
            for message in &proto.message_type {
                message_types(
                    &file.name,
                    &scope,
                    message,
                    &mut defined,
                    own.then_some(&mut named),
                );
            }
            let proto = if own { proto } else { graph_only(proto) };
            Ok((Module::from_protobuf_package_name(&file.package), proto))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let missing = named
        .iter()
        .filter(|(type_name, _)| !defined.contains(*type_name))
        .min();
    if let Some((type_name, field)) = missing {
        return Err(Error::Descriptors(format!(
            "{field} has type `{type_name}`, which is not in the request"
        )));
    }
    drop((defined, named));
    let (mut messages, services) = run_prost_build(requests, options)?;
    let mut services_by_module: HashMap<Module, Vec<prost_build::Service>> = HashMap::new();
    for service in services {
        services_by_module
            .entry(Module::from_protobuf_package_name(&service.package))
            .or_default()
            .push(service);
    }
    Ok(packages
        .iter()
        .map(|plan| PackageParts {
            messages: match messages.remove(&plan.module) {
                Some(code) if options.messages => code,
                _ => String::new(),
            },
            services: services_by_module.remove(&plan.module).unwrap_or_default(),
        })
        .collect())
}

/// Adds the full names (`.package.Outer.Inner`) of `message`, its nested messages and their enums
/// to `defined`, and, when `named` is given, the types their fields name, each with the first
/// field that names it (`file`: `package.Message.field`).
fn message_types(
    file: &str,
    scope: &str,
    message: &prost_types::DescriptorProto,
    defined: &mut HashSet<String>,
    mut named: Option<&mut HashMap<String, String>>,
) {
    let name = format!("{scope}.{}", message.name());
    defined.extend(
        message
            .enum_type
            .iter()
            .map(|e| format!("{name}.{}", e.name())),
    );
    if let Some(named) = named.as_deref_mut() {
        for field in &message.field {
            if let Some(type_name) = &field.type_name
                && !named.contains_key(type_name)
            {
                named.insert(
                    type_name.clone(),
                    format!("`{file}`: field `{}.{}`", &name[1..], field.name()),
                );
            }
        }
    }
    for nested in &message.nested_type {
        message_types(file, &name, nested, defined, named.as_deref_mut());
    }
    defined.insert(name);
}

/// What prost-build needs of a file a chunk imports but does not write: only its message graph.
/// prost-build boxes a message field when the field's type leads back to the message, and derives
/// `Copy` or `Eq` for a message when every message it holds, directly or not, allows it; imported
/// messages matter only through that. So each message keeps its fields that hold a message (the
/// graph's edges, with their names, which `boxed` paths match; single groups too, which box like
/// messages and rule out both derives) and, of the others, the first that
/// does not allow `Copy` and the first that does not allow `Eq`; enums, services, extensions and
/// oneofs go. The code prost-build writes for such a file is thrown away; what it writes for the
/// chunk's own files is the same as with the whole file (`cmp` of whole runs, BENCHMARKS.md), and
/// a chunk that imports most of the input (packages that import each other in a chain) costs a
/// fraction of a whole run instead of all of it.
fn graph_only(mut file: prost_types::FileDescriptorProto) -> prost_types::FileDescriptorProto {
    use prost_types::field_descriptor_proto::{Label, Type};
    // As prost-build decides it for a field that is not a message (or is a repeated one).
    fn allows_copy(field: &prost_types::FieldDescriptorProto) -> bool {
        field.label() != Label::Repeated
            && !matches!(
                field.r#type(),
                Type::String | Type::Bytes | Type::Message | Type::Group
            )
    }
    fn allows_eq(field: &prost_types::FieldDescriptorProto) -> bool {
        !matches!(
            field.r#type(),
            Type::Float | Type::Double | Type::Message | Type::Group
        )
    }
    fn reduce(message: &mut prost_types::DescriptorProto) {
        // A map field's entry keeps its key and value: prost-build reads them to write the field.
        if !message.options.as_ref().is_some_and(|o| o.map_entry()) {
            let (mut copy_breaker, mut eq_breaker) = (false, false);
            message.field.retain(|field| {
                let edge = field.label() != Label::Repeated
                    && matches!(field.r#type(), Type::Message | Type::Group);
                if edge {
                    return true;
                }
                let breaks_copy = !copy_breaker && !allows_copy(field);
                let breaks_eq = !eq_breaker && !allows_eq(field);
                copy_breaker |= breaks_copy;
                eq_breaker |= breaks_eq;
                breaks_copy || breaks_eq
            });
            for field in &mut message.field {
                field.oneof_index = None;
                field.proto3_optional = None;
            }
        }
        message.oneof_decl.clear();
        message.enum_type.clear();
        message.extension.clear();
        for nested in &mut message.nested_type {
            reduce(nested);
        }
    }
    for message in &mut file.message_type {
        reduce(message);
    }
    file.enum_type.clear();
    file.service.clear();
    file.extension.clear();
    file
}

/// The file of one package, or `None` when it has nothing to write.
pub(super) fn render_package(
    descriptors: &Descriptors,
    options: &Options,
    plan: &PackagePlan,
    parts: PackageParts,
) -> Result<Option<GeneratedFile>, Error> {
    let cx = Context::new(options)?;
    let runtime = runtime_text(&cx);
    let services = parts
        .services
        .into_iter()
        .map(|service| {
            Ok(generate_service(
                &cx,
                &runtime,
                &Service::new(service, descriptors.pool()?, &options.extern_paths)?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if parts.messages.trim().is_empty() && services.is_empty() {
        return Ok(None);
    }
    let name = plan.module.to_file_name_or(DEFAULT_PACKAGE_FILE);
    let sources: Vec<&str> = plan
        .sources
        .iter()
        .map(|&i| descriptors.files[i].name.as_str())
        .collect();
    // Every message of the package can be a status detail.
    let messages =
        crate::contract::package_messages(descriptors.pool()?, &sources, &options.extern_paths);
    let details = if messages.is_empty() {
        None
    } else {
        Some(contract::detail_impls(&runtime, &messages))
    };
    let content = render(
        &cx,
        &name,
        &sources,
        &parts.messages,
        services,
        details.as_deref(),
    )?;
    Ok(Some(GeneratedFile { name, content }))
}

/// Collects the services prost-build reports, with their message types resolved to Rust paths.
#[derive(Clone, Default)]
struct ServiceCollector(Rc<RefCell<Vec<prost_build::Service>>>);

impl prost_build::ServiceGenerator for ServiceCollector {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        // prost-build drops a package whose code is empty and then fails on its services when
        // every message of the package is extern; a comment keeps the package (and parses away).
        buf.push_str("// services are generated by protoc-gen-greeter\n");
        self.0.borrow_mut().push(service);
    }
}

fn run_prost_build(
    requests: Vec<(Module, prost_types::FileDescriptorProto)>,
    options: &Options,
) -> Result<(HashMap<Module, String>, Vec<prost_build::Service>), Error> {
    let collector = ServiceCollector::default();
    let mut config = prost_build::Config::new();
    config
        .service_generator(Box::new(collector.clone()))
        // Formatting happens once, over messages and services together.
        .format(false);
    for (proto, rust) in &options.extern_paths {
        config.extern_path(proto, rust);
    }
    for (path, attribute) in &options.type_attributes {
        config.type_attribute(path, attribute);
    }
    for (path, attribute) in &options.field_attributes {
        config.field_attribute(path, attribute);
    }
    // prost-build asserts on some inputs instead of returning errors; a plugin must answer with an
    // error response rather than die, so its panics are caught here and reported.
    let messages = catch_unwind(AssertUnwindSafe(|| config.generate(requests)))
        .map_err(|panic| Error::Messages(panic_message(&panic)))?
        .map_err(|error| Error::Messages(error.to_string()))?;
    Ok((messages, collector.0.take()))
}

/// One package's file: header, messages, version pin, services, `Detail` impls; formatted.
fn render(
    cx: &Context<'_>,
    file_name: &str,
    sources: &[&str],
    messages: &str,
    services: Vec<Vec<Piece>>,
    details: Option<&str>,
) -> Result<String, Error> {
    let internal = |message: String| Error::Internal {
        file: file_name.to_owned(),
        message,
    };
    // prost-build prefixes its own @generated line; ours replaces it.
    let messages = messages
        .strip_prefix("// This file is @generated by prost-build.\n")
        .unwrap_or(messages);
    // prost-build copies attributes and extern paths as given: items are written as laid out
    // only while none is spelled otherwise than prettyplease would print it.
    let as_written = cx.options.type_attributes.is_empty()
        && cx.options.field_attributes.is_empty()
        && cx
            .options
            .extern_paths
            .iter()
            .all(|(_, rust)| crate::format::plain_path(rust));
    let mut pretty = crate::format::pretty_messages(messages, as_written)
        .map_err(|e| internal(e.to_string()))?;
    if !services.is_empty() || details.is_some() {
        let runtime = &cx.runtime;
        let pin_message = format!(
            "this code was generated by protoc-gen-greeter {GENERATOR_VERSION}, which needs a \
             greeter-runtime with code-generation interface {CODEGEN_VERSION}: use matching versions"
        );
        let pin = quote! {
            const _: () = ::core::assert!(#runtime::__codegen::CODEGEN_VERSION == #CODEGEN_VERSION, #pin_message);
        };
        let pieces = std::iter::once(Piece::Tokens(pin)).chain(services.into_iter().flatten());
        print_pieces(pieces.collect(), &mut pretty).map_err(|e| internal(e.to_string()))?;
        pretty.push_str(details.unwrap_or_default());
    }
    let code =
        crate::format::finish(pretty, cx.options.rustfmt).map_err(|message| Error::Rustfmt {
            file: file_name.to_owned(),
            message,
        })?;
    Ok(format!(
        "// @generated by protoc-gen-greeter {GENERATOR_VERSION} from {}. Do not edit.\n\n{code}",
        sources.join(", ")
    ))
}

/// The runtime crate's path as prettyplease writes it in a type.
fn runtime_text(cx: &Context<'_>) -> String {
    let runtime = &cx.runtime;
    let alias: syn::File = syn::parse_quote!(type T = #runtime;);
    let text = prettyplease::unparse(&alias);
    text.trim_end()
        .trim_start_matches("type T = ")
        .trim_end_matches(';')
        .to_owned()
}

/// Generated items: written out in prettyplease's layout, or tokens still to be printed.
enum Piece {
    Text(String),
    Tokens(TokenStream),
}

/// Appends `pieces` to `out` in prettyplease's layout, printing each run of tokens at once.
fn print_pieces(pieces: Vec<Piece>, out: &mut String) -> syn::Result<()> {
    let mut tokens = TokenStream::new();
    let flush = |tokens: &mut TokenStream, out: &mut String| -> syn::Result<()> {
        if !tokens.is_empty() {
            let items: syn::File = syn::parse2(std::mem::take(tokens))?;
            out.push_str(&prettyplease::unparse(&items));
        }
        Ok(())
    };
    for piece in pieces {
        match piece {
            Piece::Text(text) => {
                flush(&mut tokens, out)?;
                out.push_str(&text);
            }
            Piece::Tokens(more) => tokens.extend(more),
        }
    }
    flush(&mut tokens, out)
}

fn generate_service(cx: &Context<'_>, runtime: &str, service: &Service) -> Vec<Piece> {
    let text_or_tokens = |text: Option<String>, tokens: &dyn Fn() -> TokenStream| match text {
        Some(text) => Piece::Text(text),
        None => Piece::Tokens(tokens()),
    };
    let mut pieces = vec![text_or_tokens(
        methods::methods_module_text(runtime, service),
        &|| methods::generate_methods_module(cx, service),
    )];
    if cx.options.server {
        pieces.push(text_or_tokens(
            server::server_text(cx, runtime, service),
            &|| server::generate_server(cx, service),
        ));
    }
    if cx.options.client {
        pieces.push(text_or_tokens(
            client::client_text(runtime, service),
            &|| client::generate_client(cx, service),
        ));
    }
    // Hooks serve both sides, so they come with either.
    if cx.options.server || cx.options.client {
        pieces.push(text_or_tokens(hooks::hooks_text(runtime, service), &|| {
            hooks::generate_hooks(cx, service).unwrap_or_default()
        }));
    }
    if let Some(contract) = contract::generate_contract_module(cx, service) {
        pieces.push(Piece::Tokens(contract));
    }
    pieces
}
