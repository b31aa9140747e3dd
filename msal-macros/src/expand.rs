//! Code generation, once the input passed every check.
//!
//! Everything but the inherent items goes into a `const _: () = { ... };` block, so the
//! generated statics and helpers are not nameable and do not clash with user items. Paths
//! are fully qualified (`::msal_core::...`, or the `#[msal(crate = "...")]` path).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Path};

use crate::ast::{Container, Data, ScopeList};
use crate::check::{self, DEFAULT};
use crate::ctxt::Ctxt;

/// `#[derive(Resource)]`: parse, check, expand.
pub(crate) fn derive_resource(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    if let Some(cont) = &cont {
        check::check_container(&cx, cont);
    }
    cx.check()?;
    let cont = cont.expect("from_ast records an error whenever it returns None");
    Ok(expand_container(&cont))
}

/// `scopes![...]`: parse, check, expand.
///
/// The expansion is always one expression of type `&'static ScopeSet`: on errors, a block with
/// the `compile_error!`s and an empty set, so that the errors are the only ones reported.
pub(crate) fn scopes(input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let list = ScopeList::parse(&cx, input);
    check::check_scope_list(&cx, &list);
    match cx.check() {
        Ok(()) => expand_scope_list(&list),
        Err(e) => {
            let errors = e.into_compile_error();
            let krate = list.krate.clone().unwrap_or_else(default_crate);
            quote! {
                {
                    #errors
                    static SET: #krate::ScopeSet = #krate::ScopeSet::from_static_sorted(&[]);
                    &SET
                }
            }
        }
    }
}

/// Turns the result into tokens (errors become `compile_error!`s) and prints the expansion
/// to stderr when `MSAL_MACROS_DEBUG` is set (to anything but `0`).
pub(crate) fn finish(what: &str, result: syn::Result<TokenStream>) -> TokenStream {
    let tokens = result.unwrap_or_else(syn::Error::into_compile_error);
    if std::env::var_os("MSAL_MACROS_DEBUG").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("// msal-macros: expansion of {what}\n{tokens}\n");
    }
    tokens
}

fn default_crate() -> Path {
    syn::parse_quote!(::msal_core)
}

/// One value of the generated type and its scope.
struct Entry<'a> {
    /// The value, as an expression and a pattern: `Graph::UserRead`, or `Graph` for a unit
    /// struct.
    value: TokenStream,
    /// The variant's name, when the type is an enum.
    variant: Option<&'a syn::Ident>,
    /// The scope's name, e.g. `User.Read`.
    name: String,
    /// The full scope string, e.g. `https://graph.microsoft.com/User.Read`.
    full: String,
    /// The variant's doc summary.
    doc: Option<&'a str>,
}

fn expand_container(cont: &Container<'_>) -> TokenStream {
    let krate = cont.attrs.krate.clone().unwrap_or_else(default_crate);
    let ident = cont.ident;
    let vis = cont.vis;
    let resource = cont
        .attrs
        .resource
        .as_ref()
        .map(syn::LitStr::value)
        .expect("checked: the resource is present");
    let entries: Vec<Entry<'_>> = match &cont.data {
        Data::Enum(variants) => variants
            .iter()
            .map(|v| {
                let name = v
                    .attrs
                    .scope
                    .as_ref()
                    .map(syn::LitStr::value)
                    .expect("checked: every variant has a scope");
                let vi = v.ident;
                Entry {
                    value: quote!(#ident::#vi),
                    variant: Some(vi),
                    full: check::full_scope(&resource, &name),
                    name,
                    doc: v.attrs.doc.as_deref(),
                }
            })
            .collect(),
        Data::Unit => vec![Entry {
            value: quote!(#ident),
            variant: None,
            full: check::full_scope(&resource, DEFAULT),
            name: DEFAULT.to_owned(),
            doc: None,
        }],
    };
    let default_full = check::full_scope(&resource, DEFAULT);
    let cow = quote!(#krate::__private::Cow);

    let values: Vec<&TokenStream> = entries.iter().map(|e| &e.value).collect();
    let fulls: Vec<&str> = entries.iter().map(|e| e.full.as_str()).collect();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let scope_statics: Vec<syn::Ident> = (0..entries.len())
        .map(|i| format_ident!("__MSAL_SCOPE_{}", i))
        .collect();
    let set_statics: Vec<syn::Ident> = (0..entries.len())
        .map(|i| format_ident!("__MSAL_SET_{}", i))
        .collect();

    let type_name = ident.to_string();
    let all_doc = all_doc(&type_name, &resource, &entries);
    let default_doc = format!(
        "The `.default` scope of `{resource}`, `{default_full}`: every permission granted to \
         the app for this resource, as in a client-credentials request \
         (`app.acquire_token_for_client({type_name}::default_scope())`).\n\n\
         A `'static` set: passing it to an `acquire_*` method allocates nothing."
    );
    let set_doc = "This scope as a one-scope `ScopeSet`, borrowed from a `static`: passing it to \
                   an `acquire_*` method allocates nothing.";
    let as_str_doc = format!(
        "The full scope string, e.g. `{}`; what `Display` and `Serialize` write.",
        fulls[0]
    );
    let expected = fulls
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let parse_error = format!(
        "is not a scope of `{type_name}`; expected one of {expected}, or a name alone \
         (compared case-insensitively)"
    );
    let expecting = format!("a scope of `{type_name}`, such as \"{}\"", fulls[0]);

    quote! {
        #[automatically_derived]
        #[allow(dead_code, unreachable_pub)]
        impl #ident {
            #[doc = #all_doc]
            #vis const ALL: &'static [#ident] = &[#(#values),*];

            #[doc = #default_doc]
            #vis fn default_scope() -> &'static #krate::ScopeSet {
                static SCOPES: [#cow<'static, str>; 1] = [#cow::Borrowed(#default_full)];
                static SET: #krate::ScopeSet = #krate::ScopeSet::from_static_sorted(&SCOPES);
                &SET
            }

            #[doc = #set_doc]
            #vis fn scope_set(&self) -> &'static #krate::ScopeSet {
                #(
                    static #scope_statics: [#cow<'static, str>; 1] = [#cow::Borrowed(#fulls)];
                    static #set_statics: #krate::ScopeSet =
                        #krate::ScopeSet::from_static_sorted(&#scope_statics);
                )*
                match self {
                    #(#values => &#set_statics,)*
                }
            }

            #[doc = #as_str_doc]
            #vis const fn as_str(&self) -> &'static str {
                match self {
                    #(#values => #fulls,)*
                }
            }
        }

        const _: () = {
            fn __msal_parse(s: &str) -> ::core::option::Option<#ident> {
                #(
                    if s.eq_ignore_ascii_case(#fulls) || s.eq_ignore_ascii_case(#names) {
                        return ::core::option::Option::Some(#values);
                    }
                )*
                ::core::option::Option::None
            }

            #[automatically_derived]
            impl #krate::Scope for #ident {
                fn scope_str(&self) -> #cow<'static, str> {
                    #cow::Borrowed(#ident::as_str(self))
                }
            }

            #[automatically_derived]
            impl #krate::IntoScopes for #ident {
                fn into_scopes(self) -> #krate::Result<#krate::ScopeSet> {
                    let set: &'static #krate::ScopeSet = #ident::scope_set(&self);
                    ::core::result::Result::Ok(::core::clone::Clone::clone(set))
                }
            }

            #[automatically_derived]
            impl #krate::IntoScopes for &#ident {
                fn into_scopes(self) -> #krate::Result<#krate::ScopeSet> {
                    let set: &'static #krate::ScopeSet = #ident::scope_set(self);
                    ::core::result::Result::Ok(::core::clone::Clone::clone(set))
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #ident {
                type Err = #krate::Error;

                fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                    __msal_parse(s).ok_or_else(|| {
                        #krate::Error::new(
                            #krate::ErrorKind::InvalidInput,
                            ::std::format!("`{}` {}", s, #parse_error),
                        )
                    })
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.pad(#ident::as_str(self))
                }
            }

            #[automatically_derived]
            impl #krate::__private::serde::Serialize for #ident {
                fn serialize<S>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error>
                where
                    S: #krate::__private::serde::Serializer,
                {
                    serializer.serialize_str(#ident::as_str(self))
                }
            }

            #[automatically_derived]
            impl<'de> #krate::__private::serde::Deserialize<'de> for #ident {
                fn deserialize<D>(deserializer: D) -> ::core::result::Result<Self, D::Error>
                where
                    D: #krate::__private::serde::Deserializer<'de>,
                {
                    struct __MsalVisitor;

                    impl #krate::__private::serde::de::Visitor<'_> for __MsalVisitor {
                        type Value = #ident;

                        fn expecting(
                            &self,
                            f: &mut ::core::fmt::Formatter<'_>,
                        ) -> ::core::fmt::Result {
                            f.write_str(#expecting)
                        }

                        fn visit_str<E>(self, v: &str) -> ::core::result::Result<#ident, E>
                        where
                            E: #krate::__private::serde::de::Error,
                        {
                            __msal_parse(v).ok_or_else(|| {
                                E::invalid_value(
                                    #krate::__private::serde::de::Unexpected::Str(v),
                                    &self,
                                )
                            })
                        }
                    }

                    deserializer.deserialize_str(__MsalVisitor)
                }
            }
        };
    }
}

/// The docs of `ALL`: every value with its scope and doc summary.
fn all_doc(type_name: &str, resource: &str, entries: &[Entry<'_>]) -> String {
    let mut doc = match entries.first().and_then(|e| e.variant) {
        None => format!(
            "The one value of `{type_name}`, which stands for `{}`.",
            entries.first().map_or("", |e| e.full.as_str())
        ),
        Some(_) => format!("Every scope of `{resource}` declared in `{type_name}`:\n"),
    };
    for e in entries {
        let Some(v) = e.variant else { continue };
        doc.push_str(&format!("\n- [`{v}`](Self::{v}): `{}`", e.full));
        if let Some(d) = e.doc {
            doc.push_str(". ");
            doc.push_str(d);
        }
    }
    doc
}

fn expand_scope_list(list: &ScopeList) -> TokenStream {
    let krate = list.krate.clone().unwrap_or_else(default_crate);
    let cow = quote!(#krate::__private::Cow);
    let mut scopes: Vec<String> = list.scopes.iter().map(syn::LitStr::value).collect();
    // Code-point order, as `ScopeSet` keeps (checked: no case-insensitive duplicates).
    scopes.sort_unstable();
    let n = scopes.len();
    quote! {
        {
            static SCOPES: [#cow<'static, str>; #n] = [#(#cow::Borrowed(#scopes)),*];
            static SET: #krate::ScopeSet = #krate::ScopeSet::from_static_sorted(&SCOPES);
            &SET
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn derive(input: DeriveInput) -> String {
        derive_resource(&input).expect("expands").to_string()
    }

    #[test]
    fn enum_expansion_has_the_full_strings() {
        let out = derive(parse_quote! {
            #[resource("https://graph.microsoft.com")]
            pub(crate) enum Graph {
                /// Read the signed-in user's profile.
                #[scope("User.Read")]
                UserRead,
                #[scope("Mail.Send")]
                MailSend,
            }
        });
        for needle in [
            "\"https://graph.microsoft.com/User.Read\"",
            "\"https://graph.microsoft.com/Mail.Send\"",
            "\"https://graph.microsoft.com/.default\"",
            "pub (crate) const ALL",
            "pub (crate) fn default_scope",
            "pub (crate) const fn as_str",
            "impl :: msal_core :: Scope for Graph",
            "impl :: msal_core :: IntoScopes for Graph",
            "impl :: msal_core :: IntoScopes for & Graph",
            "impl :: core :: str :: FromStr for Graph",
            "impl :: core :: fmt :: Display for Graph",
            ":: msal_core :: __private :: serde :: Serialize for Graph",
            ":: msal_core :: __private :: serde :: Deserialize < 'de > for Graph",
            "from_static_sorted",
            "Read the signed-in user's profile.",
        ] {
            assert!(out.contains(needle), "missing {needle} in {out}");
        }
    }

    #[test]
    fn unit_struct_and_guid_resource() {
        let out = derive(parse_quote! {
            #[resource("00000003-0000-0000-c000-000000000000")]
            struct GraphById;
        });
        assert!(out.contains("\"00000003-0000-0000-c000-000000000000/.default\""));
        assert!(out.contains("& [GraphById]"));
    }

    #[test]
    fn crate_override() {
        let out = derive(parse_quote! {
            #[resource("api://contoso.com/orders")]
            #[msal(crate = "crate::reexport::msal")]
            enum Orders { #[scope("Orders.Read")] Read }
        });
        assert!(out.contains("impl crate :: reexport :: msal :: Scope for Orders"));
        assert!(!out.contains(":: msal_core"));
        assert!(out.contains("\"api://contoso.com/orders/Orders.Read\""));
    }

    #[test]
    fn errors_become_compile_errors() {
        let input: DeriveInput = parse_quote! {
            #[resource("http://x")]
            enum E { #[scope("")] A, B }
        };
        let err = derive_resource(&input).expect_err("invalid");
        assert_eq!(err.into_iter().count(), 3);
        let out = finish("test", derive_resource(&input)).to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }

    #[test]
    fn scope_list_is_sorted_by_code_point() {
        let out = scopes(quote!(
            "https://graph.microsoft.com/User.Read",
            "Mail.Send",
            "a.b"
        ))
        .to_string();
        let a = out.find("\"Mail.Send\"").expect("present");
        let b = out.find("\"a.b\"").expect("present");
        let c = out
            .find("\"https://graph.microsoft.com/User.Read\"")
            .expect("present");
        assert!(a < b && b < c, "{out}");
        assert!(out.contains("; 3usize]"), "{out}");
    }

    #[test]
    fn scope_list_errors_stay_one_expression() {
        let out = scopes(quote!("", "openid")).to_string();
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.starts_with("{"), "{out}");
        assert!(out.contains("from_static_sorted (& [])"), "{out}");
    }

    #[test]
    fn empty_scope_list() {
        let out = scopes(quote!()).to_string();
        assert!(out.contains("; 0usize] = []"), "{out}");
    }
}
