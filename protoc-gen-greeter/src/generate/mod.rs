//! From descriptors to files: prost-build writes the messages and resolves message types to Rust
//! paths; this module writes, for every service, the method descriptions, the server and the
//! client, then formats each package's file.

mod client;
mod methods;
mod server;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use proc_macro2::TokenStream;
use prost_build::Module;
use prost_reflect::DescriptorPool;
use quote::quote;

use crate::error::Error;
use crate::model::Service;
use crate::names;
use crate::options::Options;

/// The version written into every generated file's header.
const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The runtime's code-generation interface this generator emits code for.
const CODEGEN_VERSION: u32 = 1;

/// prost-build's file name for items of the empty package.
const DEFAULT_PACKAGE_FILE: &str = "_";

/// One output file: its name relative to the output directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub content: String,
}

/// What every generate_* function needs: the options and the runtime path.
pub(crate) struct Context<'a> {
    pub options: &'a Options,
    /// The alias generated modules give the runtime's `__codegen` module.
    pub rt: TokenStream,
    /// The `use` that defines that alias, first in every generated module.
    pub rt_import: TokenStream,
}

/// Generates the files for `files_to_generate`, whose descriptors (and their imports') are in
/// `pool`.
pub fn generate(
    pool: &DescriptorPool,
    files_to_generate: &[String],
    options: &Options,
) -> Result<Vec<GeneratedFile>, Error> {
    let mut requests = Vec::with_capacity(files_to_generate.len());
    for name in files_to_generate {
        let file = pool
            .get_file_by_name(name)
            .ok_or_else(|| Error::MissingFile(name.clone()))?;
        check_supported(&file)?;
        let proto = file.file_descriptor_proto().clone();
        requests.push((Module::from_protobuf_package_name(proto.package()), proto));
    }

    let (messages, services) = run_prost_build(requests.clone(), options)?;

    let runtime = &options.runtime_crate;
    let cx = Context {
        options,
        rt: quote!(rt),
        rt_import: quote!(use #runtime::__codegen as rt;),
    };
    let mut packages: BTreeMap<Module, Package> = BTreeMap::new();
    for (module, proto) in &requests {
        packages
            .entry(module.clone())
            .or_default()
            .sources
            .push(proto.name().to_owned());
    }
    if options.messages {
        for (module, code) in messages {
            packages.entry(module).or_default().messages = code;
        }
    }
    for service in services {
        let module = Module::from_protobuf_package_name(&service.package);
        let service = Service::new(service, pool)?;
        packages
            .entry(module)
            .or_default()
            .services
            .push(generate_service(&cx, &service));
    }

    let mut files = Vec::new();
    for (module, package) in &packages {
        if package.messages.trim().is_empty() && package.services.is_empty() {
            continue;
        }
        let name = module.to_file_name_or(DEFAULT_PACKAGE_FILE);
        let content = package.render(&cx, &name)?;
        files.push(GeneratedFile { name, content });
    }
    if let Some(include_file) = &options.include_file {
        let modules: Vec<&Module> = packages
            .keys()
            .filter(|module| {
                files
                    .iter()
                    .any(|f| f.name == module.to_file_name_or(DEFAULT_PACKAGE_FILE))
            })
            .collect();
        files.push(GeneratedFile {
            name: include_file.clone(),
            content: generate_include_file(include_file, &modules)?,
        });
    }
    Ok(files)
}

/// Rejects what this generator cannot faithfully generate, naming the file.
fn check_supported(file: &prost_reflect::FileDescriptor) -> Result<(), Error> {
    let syntax = file.file_descriptor_proto().syntax();
    if !matches!(syntax, "" | "proto2" | "proto3") {
        return Err(Error::Unsupported {
            file: file.name().to_owned(),
            message: format!("syntax `{syntax}` is not supported; use proto2 or proto3"),
        });
    }
    Ok(())
}

/// Collects the services prost-build reports, with their message types resolved to Rust paths.
#[derive(Clone, Default)]
struct ServiceCollector(Rc<RefCell<Vec<prost_build::Service>>>);

impl prost_build::ServiceGenerator for ServiceCollector {
    fn generate(&mut self, service: prost_build::Service, _buf: &mut String) {
        self.0.borrow_mut().push(service);
    }
}

type Messages = Vec<(Module, String)>;

fn run_prost_build(
    requests: Vec<(Module, prost_types::FileDescriptorProto)>,
    options: &Options,
) -> Result<(Messages, Vec<prost_build::Service>), Error> {
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
    let generated = catch_unwind(AssertUnwindSafe(|| config.generate(requests)))
        .map_err(|panic| Error::Messages(panic_message(&panic)))?
        .map_err(|error| Error::Messages(error.to_string()))?;
    let mut messages: Messages = generated.into_iter().collect();
    messages.sort_by(|a, b| a.0.cmp(&b.0));
    let services = collector.0.take();
    Ok((messages, services))
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Everything generated for one proto package, which becomes one file.
#[derive(Default)]
struct Package {
    sources: Vec<String>,
    messages: String,
    services: Vec<TokenStream>,
}

impl Package {
    fn render(&self, cx: &Context<'_>, file_name: &str) -> Result<String, Error> {
        let internal = |message: String| Error::Internal {
            file: file_name.to_owned(),
            message,
        };
        // prost-build prefixes its own @generated line; ours replaces it.
        let messages: String = self
            .messages
            .lines()
            .filter(|line| !line.starts_with("// This file is @generated by prost-build"))
            .flat_map(|line| [line, "\n"])
            .collect();
        let mut file = syn::parse_file(&messages).map_err(|e| internal(e.to_string()))?;
        if !self.services.is_empty() {
            let runtime = &cx.options.runtime_crate;
            let pin_message = format!(
                "this code was generated by protoc-gen-greeter {GENERATOR_VERSION}, which needs a \
                 greeter-runtime with code-generation interface {CODEGEN_VERSION}: use matching versions"
            );
            let pin = quote! {
                const _: () = ::core::assert!(#runtime::__codegen::CODEGEN_VERSION == #CODEGEN_VERSION, #pin_message);
            };
            let services = &self.services;
            let items: syn::File =
                syn::parse2(quote!(#pin #(#services)*)).map_err(|e| internal(e.to_string()))?;
            file.items.extend(items.items);
        }
        let header = format!(
            "// @generated by protoc-gen-greeter {GENERATOR_VERSION} from {}. Do not edit.\n\n",
            self.sources.join(", ")
        );
        Ok(header + &crate::format::format_file(&file))
    }
}

fn generate_service(cx: &Context<'_>, service: &Service) -> TokenStream {
    let methods = methods::generate_methods_module(cx, service);
    let server = cx
        .options
        .server
        .then(|| server::generate_server(cx, service));
    let client = cx
        .options
        .client
        .then(|| client::generate_client(cx, service));
    quote! { #methods #server #client }
}

/// The `include_file`: every package file nested in the modules of its package.
fn generate_include_file(file_name: &str, modules: &[&Module]) -> Result<String, Error> {
    #[derive(Default)]
    struct Tree {
        file: Option<String>,
        children: BTreeMap<String, Tree>,
    }
    fn render(tree: &Tree) -> TokenStream {
        let include = tree.file.as_ref().map(|file| quote!(include!(#file);));
        let children = tree.children.iter().map(|(name, child)| {
            let ident = names::ident(name);
            let body = render(child);
            quote!(pub mod #ident { #body })
        });
        quote!(#include #(#children)*)
    }
    let mut root = Tree::default();
    for module in modules {
        let node = module.parts().fold(&mut root, |node, part| {
            node.children.entry(part.to_owned()).or_default()
        });
        node.file = Some(module.to_file_name_or(DEFAULT_PACKAGE_FILE));
    }
    let file = syn::parse2::<syn::File>(render(&root)).map_err(|e| Error::Internal {
        file: file_name.to_owned(),
        message: e.to_string(),
    })?;
    Ok(format!(
        "// @generated by protoc-gen-greeter {GENERATOR_VERSION}. Do not edit.\n{}",
        crate::format::format_file(&file)
    ))
}

/// A message path as seen from a module nested one level inside the package module.
pub(crate) fn nested_type(path: &syn::Path) -> TokenStream {
    let is_absolute = path.leading_colon.is_some()
        || path
            .segments
            .first()
            .is_some_and(|segment| segment.ident == "crate");
    if is_absolute {
        quote!(#path)
    } else {
        quote!(super::#path)
    }
}
