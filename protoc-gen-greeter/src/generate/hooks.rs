//! The `<service>_hooks` module: a trait with a typed hook per request and per response of every
//! method (no-op defaults), the routing table that hands each message to its hook, and
//! `intercept`, which makes an implementation a call interceptor. The interceptor itself, the
//! side handling and the downcast are written once in the runtime (`greeter_runtime::hooks`).

use proc_macro2::TokenStream;
use quote::quote;

use super::text::{self, Lines};
use super::{Context, nested_type};
use crate::docs::doc;
use crate::model::{Method, Service};
use crate::names;

/// The module, or nothing for a service without methods (there is nothing to hook).
pub(super) fn generate_hooks(cx: &Context<'_>, service: &Service) -> Option<TokenStream> {
    if service.methods.is_empty() {
        return None;
    }
    let rt_import = &cx.rt_import;
    let module = names::ident(&service.names.hooks_module);
    let allow_deprecated = service
        .has_deprecated()
        .then(|| quote!(#![allow(deprecated)]));
    let module_doc = doc(&module_doc(service));
    let hooks_trait = hooks_trait(cx, service);
    let routes = hook_routes(cx, service);
    let intercept = intercept(cx, service);
    Some(quote! {
        #module_doc
        pub mod #module {
            #allow_deprecated
            #rt_import
            #hooks_trait
            #intercept
            #routes
        }
    })
}

fn hooks_trait(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let name = names::ident(&service.names.hooks_trait);
    let hooks = service.methods.iter().map(|method| trait_hooks(cx, method));
    let deprecated = service.deprecated.then(|| quote!(#[deprecated]));
    let trait_doc = doc(&trait_doc(service));
    quote! {
        #trait_doc
        #deprecated
        // The no-op defaults leave their parameters unused; implementations use them.
        #[allow(unused_variables)]
        pub trait #name: #rt::Send + #rt::Sync + 'static {
            #(#hooks)*
        }
    }
}

fn module_doc(service: &Service) -> String {
    format!(
        "Typed per-method hooks of `{}`, installed as one call interceptor.",
        service.full_name
    )
}

fn trait_doc(service: &Service) -> String {
    format!(
        "Typed hooks on the messages of `{}`: per method one that sees each request and one that \
         sees each response, in place, and may change it or end the call with an error. Every \
         hook does nothing unless implemented. Install an implementation with \
         `with_call_interceptor(intercept(hooks))` on a generated server or client.\n\
         \n\
         A server's hooks see requests as they arrive, before the handler, and responses before \
         they are sent; a client's see requests before they are sent and responses as they \
         arrive (`context.side()` tells which). Hooks run as each message is decoded or \
         encoded, so they are not async (`greeter_runtime::hooks`).",
        service.full_name
    )
}

fn hook_doc(direction: Direction, method: &Method) -> String {
    let each = if direction.streaming(method) {
        "each"
    } else {
        "the"
    };
    format!(
        "Sees {each} {} of `{}`.",
        direction.word(),
        method.proto_name
    )
}

fn intercept_doc(service: &Service) -> String {
    format!(
        "Runs `hooks` as a call interceptor: `{}::new(handler).with_call_interceptor(intercept(hooks))`, \
         or the same on a `{}`.",
        service.names.server, service.names.client
    )
}

fn routes_doc(service: &Service) -> String {
    format!(
        "Which hook of a [`{}`] implementation sees which message of `{}`.",
        service.names.hooks_trait, service.full_name
    )
}

/// Which of a method's two messages a hook sees.
#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

impl Direction {
    const BOTH: [Self; 2] = [Self::Request, Self::Response];

    fn word(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }

    fn hook(self, method: &Method) -> &str {
        match self {
            Self::Request => &method.names.request_hook,
            Self::Response => &method.names.response_hook,
        }
    }

    fn message(self, method: &Method) -> &syn::Type {
        match self {
            Self::Request => &method.input,
            Self::Response => &method.output,
        }
    }

    fn streaming(self, method: &Method) -> bool {
        match self {
            Self::Request => method.client_streaming,
            Self::Response => method.server_streaming,
        }
    }
}

/// The request and the response hook of one method.
fn trait_hooks(cx: &Context<'_>, method: &Method) -> TokenStream {
    let rt = &cx.rt;
    let deprecated = method.deprecated.then(|| quote!(#[deprecated]));
    let hooks = Direction::BOTH.map(|direction| {
        let name = names::ident(direction.hook(method));
        let parameter = names::ident(direction.word());
        let message = nested_type(direction.message(method));
        let doc = doc(&hook_doc(direction, method));
        quote! {
            #doc
            #deprecated
            fn #name(
                &self,
                context: &#rt::CallContext,
                #parameter: &mut #message,
            ) -> #rt::Result<(), #rt::tonic::Status> {
                Ok(())
            }
        }
    });
    quote!(#(#hooks)*)
}

/// `intercept(hooks)`: an implementation as a call interceptor.
fn intercept(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let hooks_trait = names::ident(&service.names.hooks_trait);
    let routes = names::ident(&service.names.hook_routes);
    let doc = doc(&intercept_doc(service));
    quote! {
        #doc
        pub fn intercept<H: #hooks_trait>(hooks: H) -> #rt::HooksInterceptor<H, #routes> {
            #rt::HooksInterceptor::new(hooks)
        }
    }
}

/// The table that hands each request and response of the service to its typed hook.
fn hook_routes(cx: &Context<'_>, service: &Service) -> TokenStream {
    let rt = &cx.rt;
    let hooks_trait = names::ident(&service.names.hooks_trait);
    let routes = names::ident(&service.names.hook_routes);
    let dispatch = |direction: Direction| {
        let arms = service.methods.iter().map(|method| {
            let path = service.path(method);
            let hook = names::ident(direction.hook(method));
            quote!(#path => #rt::hook(H::#hook, hooks, context, message),)
        });
        quote! {
            match context.method().path() {
                #(#arms)*
                _ => Ok(()),
            }
        }
    };
    let request = dispatch(Direction::Request);
    let response = dispatch(Direction::Response);
    let doc = doc(&routes_doc(service));
    let signature = quote! {
        (
            hooks: &H,
            context: &#rt::CallContext,
            message: &mut #rt::AnyMessage<'_>,
        ) -> #rt::Result<(), #rt::tonic::Status>
    };
    quote! {
        #doc
        #[derive(Debug, Clone, Copy)]
        pub struct #routes;

        impl<H: #hooks_trait> #rt::HookRoutes<H> for #routes {
            fn request #signature {
                #request
            }

            fn response #signature {
                #response
            }
        }
    }
}

/// The module written out in prettyplease's layout, or `None` where a name or type is beyond
/// the layout this writer knows (the module is then printed from [`generate_hooks`]). Nothing
/// for a service without methods, as there.
pub(super) fn hooks_text(runtime: &str, service: &Service) -> Option<String> {
    let mut code = Lines::new();
    if service.methods.is_empty() {
        return Some(code.out);
    }
    let names = &service.names;
    code.doc(&module_doc(service));
    code.open(&format!("pub mod {} {{", names.hooks_module));
    if service.has_deprecated() {
        code.line("#![allow(deprecated)]");
    }
    code.line(&format!("use {runtime}::__codegen as rt;"));
    code.doc(&trait_doc(service));
    if service.deprecated {
        code.line("#[deprecated]");
    }
    code.line("#[allow(unused_variables)]");
    // prettyplease keeps a trait's bounds on one line however long.
    code.open(&format!(
        "pub trait {}: rt::Send + rt::Sync + 'static {{",
        names.hooks_trait
    ));
    for method in &service.methods {
        for direction in Direction::BOTH {
            let message = text::type_text(direction.message(method), true)?;
            code.doc(&hook_doc(direction, method));
            if method.deprecated {
                code.line("#[deprecated]");
            }
            code.open(&format!("fn {}(", direction.hook(method)));
            code.line("&self,");
            code.line("context: &rt::CallContext,");
            code.line_of(&[direction.word(), ": &mut ", &message, ","]);
            code.reopen(") -> rt::Result<(), rt::tonic::Status> {");
            code.line("Ok(())");
            code.close("}");
        }
    }
    code.close("}");
    code.doc(&intercept_doc(service));
    let (generics, returns) = (
        format!("pub fn intercept<H: {}>(", names.hooks_trait),
        format!(") -> rt::HooksInterceptor<H, {}> {{", names.hook_routes),
    );
    let flat = format!("{generics}hooks: H{returns}");
    if code.fits(&flat) {
        code.open(&flat);
    } else {
        code.open(&generics);
        code.line("hooks: H,");
        code.outdent();
        if !code.fits(&returns) {
            return None;
        }
        code.open(&returns);
    }
    code.line("rt::HooksInterceptor::new(hooks)");
    code.close("}");
    code.doc(&routes_doc(service));
    code.line("#[derive(Debug, Clone, Copy)]");
    code.line(&format!("pub struct {};", names.hook_routes));
    code.open_impl(
        &format!("impl<H: {}> rt::HookRoutes<H>", names.hooks_trait),
        &names.hook_routes,
    )?;
    for direction in Direction::BOTH {
        code.open(&format!("fn {}(", direction.word()));
        code.line("hooks: &H,");
        code.line("context: &rt::CallContext,");
        code.line("message: &mut rt::AnyMessage<'_>,");
        code.reopen(") -> rt::Result<(), rt::tonic::Status> {");
        code.open("match context.method().path() {");
        for method in &service.methods {
            let path = text::literal(&service.path(method))?;
            let call = format!(
                "rt::hook(H::{}, hooks, context, message)",
                direction.hook(method)
            );
            let arm = format!("{path} => {call}");
            if code.fits(&arm) {
                code.line_of(&[&arm, ","]);
                continue;
            }
            code.open(&format!("{path} => {{"));
            if code.fits(&call) {
                code.line(&call);
            } else {
                code.open("rt::hook(");
                code.line_of(&["H::", direction.hook(method), ","]);
                code.line("hooks,");
                code.line("context,");
                code.line("message,");
                code.close(")");
            }
            code.close("}");
        }
        code.line("_ => Ok(()),");
        code.close("}");
        code.close("}");
    }
    code.close("}");
    code.close("}");
    Some(code.out)
}
