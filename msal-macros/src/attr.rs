//! Reading the attributes: `#[resource("...")]` and `#[msal(crate = "...")]` on the type,
//! `#[scope("...")]` on each variant, and the doc comments carried into generated docs.

use proc_macro2::TokenStream;
use syn::parse::ParseStream;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{CRATE, DOC, MSAL, RESOURCE, SCOPE, Symbol};

/// The attributes of the type that derives `Resource`.
pub(crate) struct ContainerAttrs {
    /// `#[resource("https://graph.microsoft.com")]`.
    pub(crate) resource: Option<LitStr>,
    /// `#[msal(crate = "path")]`.
    pub(crate) krate: Option<Path>,
}

impl ContainerAttrs {
    /// Reads the type's attributes, recording every problem in `cx`.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
        let mut resource: Option<LitStr> = None;
        let mut krate: Option<Path> = None;
        for attr in attrs {
            let path = attr.path();
            if path == RESOURCE {
                match single_string(attr, RESOURCE, "https://graph.microsoft.com") {
                    Ok(lit) if resource.is_some() => cx.error_spanned_by(
                        lit,
                        "duplicate `#[resource]` attribute: a type stands for one resource",
                    ),
                    Ok(lit) => resource = Some(lit),
                    Err(e) => cx.syn_error(e),
                }
            } else if path == MSAL {
                msal_options(cx, attr, &mut krate);
            } else if path == SCOPE {
                cx.error_spanned_by(
                    attr,
                    "`#[scope]` belongs on the variants of an enum; \
                     the type itself takes `#[resource(\"...\")]`",
                );
            }
        }
        ContainerAttrs { resource, krate }
    }
}

/// The attributes of one enum variant.
pub(crate) struct VariantAttrs {
    /// `#[scope("User.Read")]`.
    pub(crate) scope: Option<LitStr>,
    /// The variant's doc comment, first paragraph, on one line.
    pub(crate) doc: Option<String>,
}

impl VariantAttrs {
    /// Reads a variant's attributes, recording every problem in `cx`.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
        let mut scope: Option<LitStr> = None;
        for attr in attrs {
            let path = attr.path();
            if path == SCOPE {
                match single_string(attr, SCOPE, "User.Read") {
                    Ok(lit) if scope.is_some() => cx.error_spanned_by(
                        lit,
                        "duplicate `#[scope]` attribute: one scope per variant \
                         (declare another variant for another scope)",
                    ),
                    Ok(lit) => scope = Some(lit),
                    Err(e) => cx.syn_error(e),
                }
            } else if path == RESOURCE || path == MSAL {
                let name = if path == RESOURCE { RESOURCE } else { MSAL };
                cx.error_spanned_by(
                    attr,
                    format!("`#[{name}]` belongs on the type, not on a variant"),
                );
            }
        }
        VariantAttrs {
            scope,
            doc: doc_summary(attrs),
        }
    }
}

/// Parses `#[name("value")]`: exactly one string literal (a trailing comma is tolerated).
fn single_string(attr: &Attribute, name: Symbol, example: &str) -> syn::Result<LitStr> {
    let usage = format!("`#[{name}(\"{example}\")]`");
    let Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(
            attr,
            format!("expected {usage}: `#[{name}]` takes one string in parentheses"),
        ));
    };
    if list.tokens.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            format!("expected {usage}: `#[{name}]` takes one string"),
        ));
    }
    list.parse_args_with(|input: ParseStream<'_>| {
        let lit: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected a string literal, as in {usage}"),
            )
        })?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                format!("unknown argument in `#[{name}]`: it takes one string, as in {usage}"),
            ));
        }
        Ok(lit)
    })
}

/// Parses `#[msal(crate = "path")]` into `krate`.
pub(crate) fn msal_options(cx: &Ctxt, attr: &Attribute, krate: &mut Option<Path>) {
    let result = attr.parse_nested_meta(|meta| {
        if meta.path == CRATE {
            let lit: LitStr = meta.value()?.parse()?;
            let path: Path = lit.parse().map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    "expected a path to msal-core, as in `#[msal(crate = \"::msal_core\")]`",
                )
            })?;
            if krate.is_some() {
                return Err(meta.error("duplicate `crate` argument in `#[msal]`"));
            }
            *krate = Some(path);
            Ok(())
        } else {
            Err(meta.error(format!(
                "unknown argument `{}` in `#[msal]`: the one argument is `crate = \"path\"`",
                path_to_string(&meta.path)
            )))
        }
    });
    if let Err(e) = result {
        cx.syn_error(e);
    }
}

/// The first paragraph of the doc comment in `attrs`, joined into one line.
pub(crate) fn doc_summary(attrs: &[Attribute]) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    'attrs: for attr in attrs {
        if attr.path() != DOC {
            continue;
        }
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        let Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        else {
            continue;
        };
        for line in s.value().split('\n') {
            let line = line.trim();
            if line.is_empty() {
                if words.is_empty() {
                    continue;
                }
                break 'attrs;
            }
            words.push(line.to_owned());
        }
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// `a::b::c` without the spaces `quote!` puts in.
pub(crate) fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn messages(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn reads_resource_and_crate() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[resource("https://graph.microsoft.com")]),
            parse_quote!(#[msal(crate = "::my::msal")]),
        ];
        let cx = Ctxt::new();
        let c = ContainerAttrs::from_ast(&cx, &attrs);
        assert!(messages(cx).is_empty());
        assert_eq!(
            c.resource.map(|l| l.value()).as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(
            c.krate.map(|p| path_to_string(&p)).as_deref(),
            Some("::my::msal")
        );
    }

    #[test]
    fn reports_every_bad_container_attribute() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[resource("a")]),
            parse_quote!(#[resource("b")]),
            parse_quote!(#[resource("c", extra)]),
            parse_quote!(#[resource = "d"]),
            parse_quote!(#[resource()]),
            parse_quote!(#[resource(uri = "e")]),
            parse_quote!(#[msal(rename = "x")]),
            parse_quote!(#[scope("User.Read")]),
        ];
        let cx = Ctxt::new();
        let _ = ContainerAttrs::from_ast(&cx, &attrs);
        let m = messages(cx);
        assert_eq!(m.len(), 7, "{m:#?}");
        assert!(m[0].starts_with("duplicate `#[resource]`"));
        assert!(m[1].starts_with("unknown argument in `#[resource]`"));
        assert!(m[2].contains("takes one string in parentheses"));
        assert!(m[3].contains("takes one string"));
        assert!(m[4].starts_with("expected a string literal"));
        assert!(m[5].starts_with("unknown argument `rename` in `#[msal]`"));
        assert!(m[6].starts_with("`#[scope]` belongs on the variants"));
    }

    #[test]
    fn reads_variant_scope_and_doc() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " Read the signed-in user's profile."]),
            parse_quote!(#[doc = " Second line."]),
            parse_quote!(#[doc = ""]),
            parse_quote!(#[doc = " Not in the summary."]),
            parse_quote!(#[scope("User.Read")]),
        ];
        let cx = Ctxt::new();
        let v = VariantAttrs::from_ast(&cx, &attrs);
        assert!(messages(cx).is_empty());
        assert_eq!(v.scope.map(|l| l.value()).as_deref(), Some("User.Read"));
        assert_eq!(
            v.doc.as_deref(),
            Some("Read the signed-in user's profile. Second line.")
        );
    }

    #[test]
    fn reports_misplaced_and_duplicate_variant_attributes() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[scope("A")]),
            parse_quote!(#[scope("B")]),
            parse_quote!(#[resource("https://x")]),
            parse_quote!(#[msal(crate = "x")]),
        ];
        let cx = Ctxt::new();
        let _ = VariantAttrs::from_ast(&cx, &attrs);
        let m = messages(cx);
        assert_eq!(m.len(), 3, "{m:#?}");
        assert!(m[0].starts_with("duplicate `#[scope]`"));
        assert!(m[1].starts_with("`#[resource]` belongs on the type"));
        assert!(m[2].starts_with("`#[msal]` belongs on the type"));
    }
}
