//! The parsed model of a macro input: the type deriving `Resource` ([`Container`]) and the
//! list given to `scopes!` ([`ScopeList`]).

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, DeriveInput, Fields, Ident, LitStr, Path, Token, Visibility};

use crate::attr::{self, ContainerAttrs, VariantAttrs};
use crate::ctxt::Ctxt;
use crate::symbol::MSAL;

/// A type deriving `Resource`.
pub(crate) struct Container<'a> {
    /// The type's name.
    pub(crate) ident: &'a Ident,
    /// The type's visibility, given to the generated inherent items.
    pub(crate) vis: &'a Visibility,
    /// `#[resource]` and `#[msal]`.
    pub(crate) attrs: ContainerAttrs,
    /// An enum of scopes or a unit struct.
    pub(crate) data: Data<'a>,
}

/// The shape of the type.
pub(crate) enum Data<'a> {
    /// One scope per variant.
    Enum(Vec<Variant<'a>>),
    /// A unit struct: the resource's `.default` scope.
    Unit,
}

/// One variant of a resource enum.
pub(crate) struct Variant<'a> {
    /// The variant's name.
    pub(crate) ident: &'a Ident,
    /// `#[scope]` and the doc comment.
    pub(crate) attrs: VariantAttrs,
}

impl<'a> Container<'a> {
    /// Builds the model, recording every problem of the input in `cx`. `None` when the
    /// input is not a shape the derive handles (an error is then recorded).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let attrs = ContainerAttrs::from_ast(cx, &input.attrs);
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            cx.error_spanned_by(
                &input.generics,
                "`#[derive(Resource)]` does not support generic parameters",
            );
        }
        let data = match &input.data {
            syn::Data::Enum(data) => {
                if data.variants.is_empty() {
                    cx.error_spanned_by(
                        &input.ident,
                        "a resource enum needs at least one variant with `#[scope(\"...\")]`; \
                         for a resource used only through `.default`, derive on a unit struct",
                    );
                }
                let variants = data
                    .variants
                    .iter()
                    .map(|v| Variant::from_ast(cx, v))
                    .collect();
                Data::Enum(variants)
            }
            syn::Data::Struct(data) => match &data.fields {
                Fields::Unit => Data::Unit,
                fields => {
                    cx.error_spanned_by(
                        fields,
                        "`#[derive(Resource)]` on a struct needs a unit struct \
                         (`struct Graph;`), which stands for the resource's `.default` scope",
                    );
                    return None;
                }
            },
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Resource)]` supports enums (one scope per variant) \
                     and unit structs (the `.default` scope), not unions",
                );
                return None;
            }
        };
        if attrs.resource.is_none() {
            cx.error_spanned_by(
                &input.ident,
                "`#[derive(Resource)]` needs the resource on the type, \
                 e.g. `#[resource(\"https://graph.microsoft.com\")]`",
            );
        }
        Some(Container {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            data,
        })
    }
}

impl<'a> Variant<'a> {
    fn from_ast(cx: &Ctxt, v: &'a syn::Variant) -> Variant<'a> {
        let attrs = VariantAttrs::from_ast(cx, &v.attrs);
        if !matches!(v.fields, Fields::Unit) {
            cx.error_spanned_by(
                &v.fields,
                format!(
                    "variant `{}` has fields; a resource enum has unit variants only, \
                     one `#[scope(\"...\")]` each",
                    v.ident
                ),
            );
        }
        if attrs.scope.is_none() {
            cx.error_spanned_by(
                &v.ident,
                format!(
                    "variant `{}` has no scope: add `#[scope(\"...\")]` with the scope's name, \
                     e.g. `#[scope(\"User.Read\")]`",
                    v.ident
                ),
            );
        }
        Variant {
            ident: &v.ident,
            attrs,
        }
    }
}

/// The input of `scopes!`: an optional `#[msal(crate = "path")]`, then string literals
/// separated by commas.
pub(crate) struct ScopeList {
    /// `#[msal(crate = "path")]`.
    pub(crate) krate: Option<Path>,
    /// The scope strings, as written.
    pub(crate) scopes: Vec<LitStr>,
}

impl ScopeList {
    /// Parses the macro input, recording every problem in `cx` and keeping the items that
    /// are string literals.
    pub(crate) fn parse(cx: &Ctxt, input: TokenStream) -> ScopeList {
        let split = |input: ParseStream<'_>| -> syn::Result<(Vec<Attribute>, Vec<TokenStream>)> {
            let attrs = input.call(Attribute::parse_outer)?;
            let mut items: Vec<TokenStream> = Vec::new();
            let mut current = TokenStream::new();
            while !input.is_empty() {
                if input.peek(Token![,]) {
                    let comma: Token![,] = input.parse()?;
                    if current.is_empty() {
                        return Err(syn::Error::new(
                            comma.span,
                            "expected a scope string before this comma",
                        ));
                    }
                    items.push(std::mem::take(&mut current));
                } else {
                    current.extend([input.parse::<TokenTree>()?]);
                }
            }
            if !current.is_empty() {
                items.push(current);
            }
            Ok((attrs, items))
        };
        let (attrs, items) = match split.parse2(input) {
            Ok(parts) => parts,
            Err(e) => {
                cx.syn_error(e);
                return ScopeList {
                    krate: None,
                    scopes: Vec::new(),
                };
            }
        };
        let mut krate: Option<Path> = None;
        for a in &attrs {
            if a.path() == MSAL {
                attr::msal_options(cx, a, &mut krate);
            } else {
                cx.error_spanned_by(
                    a,
                    "unknown attribute in `scopes!`: the one attribute is \
                     `#[msal(crate = \"path\")]`",
                );
            }
        }
        let mut scopes = Vec::with_capacity(items.len());
        for item in items {
            match syn::parse2::<LitStr>(item.clone()) {
                Ok(lit) => scopes.push(lit),
                Err(_) => cx.error_spanned_by(
                    item,
                    "expected a string literal: `scopes!` takes scope strings such as \
                     `\"User.Read\"`; pass derived scopes to `acquire_*` directly, \
                     e.g. `[Graph::UserRead, Graph::MailSend]`",
                ),
            }
        }
        ScopeList { krate, scopes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn messages(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn enum_with_scopes() {
        let input: DeriveInput = parse_quote! {
            #[resource("https://graph.microsoft.com")]
            pub enum Graph {
                /// Sign in and read the user's profile.
                #[scope("User.Read")]
                UserRead,
                #[scope("Mail.Send")]
                MailSend = 4,
            }
        };
        let cx = Ctxt::new();
        let c = Container::from_ast(&cx, &input).expect("an enum");
        let Data::Enum(v) = &c.data else {
            panic!("not an enum")
        };
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].ident, "UserRead");
        assert_eq!(
            v[0].attrs.doc.as_deref(),
            Some("Sign in and read the user's profile.")
        );
        assert_eq!(
            v[1].attrs.scope.as_ref().map(LitStr::value).as_deref(),
            Some("Mail.Send")
        );
        assert!(messages(cx).is_empty());
    }

    #[test]
    fn unit_struct() {
        let input: DeriveInput = parse_quote! {
            #[resource("api://0b2c3d4e-1111-2222-3333-444455556666")]
            struct Backend;
        };
        let cx = Ctxt::new();
        let c = Container::from_ast(&cx, &input).expect("a unit struct");
        assert!(matches!(c.data, Data::Unit));
        assert!(messages(cx).is_empty());
    }

    #[test]
    fn every_shape_problem_is_reported_at_once() {
        let input: DeriveInput = parse_quote! {
            enum Graph<T> {
                UserRead,
                #[scope("Mail.Send")]
                MailSend(T),
                #[scope("A")]
                Named { x: u8 },
            }
        };
        let cx = Ctxt::new();
        assert!(Container::from_ast(&cx, &input).is_some());
        let m = messages(cx);
        assert_eq!(m.len(), 5, "{m:#?}");
        assert!(m[0].contains("does not support generic parameters"));
        assert!(m[1].starts_with("variant `UserRead` has no scope"));
        assert!(m[2].starts_with("variant `MailSend` has fields"));
        assert!(m[3].starts_with("variant `Named` has fields"));
        assert!(m[4].contains("needs the resource on the type"));
    }

    #[test]
    fn rejects_non_unit_structs_unions_and_empty_enums() {
        for input in [
            parse_quote!(
                #[resource("https://x.example")]
                struct A {
                    x: u8,
                }
            ),
            parse_quote!(
                #[resource("https://x.example")]
                struct B(u8);
            ),
            parse_quote!(#[resource("https://x.example")] union C { x: u8 }),
        ] {
            let input: DeriveInput = input;
            let cx = Ctxt::new();
            assert!(Container::from_ast(&cx, &input).is_none());
            assert_eq!(messages(cx).len(), 1);
        }
        let input: DeriveInput = parse_quote!(
            #[resource("https://x.example")]
            enum E {}
        );
        let cx = Ctxt::new();
        assert!(Container::from_ast(&cx, &input).is_some());
        assert!(messages(cx)[0].starts_with("a resource enum needs at least one variant"));
    }

    #[test]
    fn scope_list_keeps_literals_and_reports_the_rest() {
        let cx = Ctxt::new();
        let l = ScopeList::parse(&cx, quote!("User.Read", "Mail.Send",));
        assert!(messages(cx).is_empty());
        assert_eq!(l.scopes.len(), 2);
        assert!(l.krate.is_none());

        let cx = Ctxt::new();
        let l = ScopeList::parse(
            &cx,
            quote!(
                #[msal(crate = "my_msal")]
                "User.Read",
                Graph::UserRead,
                42
            ),
        );
        let m = messages(cx);
        assert_eq!(l.scopes.len(), 1);
        assert_eq!(
            l.krate.map(|p| attr::path_to_string(&p)).as_deref(),
            Some("my_msal")
        );
        assert_eq!(m.len(), 2, "{m:#?}");
        assert!(m.iter().all(|m| m.starts_with("expected a string literal")));

        let cx = Ctxt::new();
        let l = ScopeList::parse(&cx, quote!());
        assert!(messages(cx).is_empty());
        assert!(l.scopes.is_empty());

        let cx = Ctxt::new();
        let _ = ScopeList::parse(&cx, quote!(#[serde(x)] "a", , "b"));
        let m = messages(cx);
        assert_eq!(m.len(), 1, "{m:#?}");
        assert!(m[0].starts_with("expected a scope string before this comma"));
    }
}
