//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, any context key, the escapes
//! `${*}`, `${?}`, `${$}`, and defaults `${key, 'default'}`.
//!
//! Rules, from the IAM User Guide, *Policy variables and tags*:
//! - variables exist only in `"Version": "2012-10-17"`; otherwise "variables like ${aws:username}
//!   are treated as literal strings in the policy" (the parser does not build templates then);
//! - they may appear in the resource part of a `Resource` ARN and in condition values of the
//!   string, ARN and Boolean operators, not in Numeric, Date, Binary, IP or Null values;
//! - `${*}`, `${?}`, `${$}` stand for a literal `*`, `?`, `$`;
//! - a default follows the key after a comma: `${aws:userid, 'anonymous'}`;
//! - multivalued context keys cannot be used as variables.
//!
//! Substituted text is always literal: a tag value containing `*` cannot widen a `StringLike`
//! pattern. A variable that cannot be resolved (absent key with no default, or a multivalued key)
//! makes the value *unresolved*, which the evaluator treats as indeterminate (see `condition.rs`).

use crate::context::{KeyName, RequestContext};
use crate::wildcard::{matches_tokens, TokRef};

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// Policy text; `*` and `?` are wildcards where the operator has wildcards.
    Text(String),
    /// A literal character from `${*}`, `${?}` or `${$}`.
    Escaped(char),
    /// A context key (lowercased) and its optional default.
    Var {
        key: KeyName,
        default: Option<String>,
    },
}

/// A precompiled token: literal text, a wildcard, or a variable to look up.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TTok {
    Lit(Box<str>),
    One,
    Star,
    Var(usize),
}

/// A policy string that contains at least one `${…}`. Besides the segments it keeps two token
/// forms compiled at parse time, one reading `*`/`?` in policy text as wildcards and one reading
/// them literally, so that matching a request allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segs: Vec<Seg>,
    wild: Vec<TTok>,
    exact: Vec<TTok>,
}

/// Templates with at most this many tokens are matched from a stack buffer.
const STACK_TOKENS: usize = 16;

impl Template {
    /// Parses `text`; returns `None` when it holds no variable or escape, so callers keep the
    /// faster static form. A `${` without a closing `}` or with an unreadable default is text.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.contains("${") {
            return None;
        }
        let mut segs = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let inner = &rest[start + 2..start + 2 + len];
            let Some(seg) = parse_inner(inner) else {
                push_text(&mut segs, &rest[..start + 2]);
                rest = &rest[start + 2..];
                continue;
            };
            push_text(&mut segs, &rest[..start]);
            segs.push(seg);
            rest = &rest[start + 3 + len..];
        }
        push_text(&mut segs, rest);
        if segs.iter().all(|s| matches!(s, Seg::Text(_))) {
            return None;
        }
        let (wild, exact) = (compile(&segs, true), compile(&segs, false));
        Some(Template { segs, wild, exact })
    }

    /// Matches `text` against the resolved template without building it: with `wild`, `*` and
    /// `?` in policy text are wildcards (`StringLike`, `Resource`); otherwise the comparison is
    /// exact (`StringEquals`). `None` if a variable cannot be resolved.
    pub fn matches(&self, ctx: &RequestContext, text: &str, wild: bool) -> Option<bool> {
        let toks = if wild { &self.wild } else { &self.exact };
        let resolve = |t| self.resolve_tok(t, ctx);
        if toks.len() <= STACK_TOKENS {
            let mut buf = [TokRef::Star; STACK_TOKENS];
            for (slot, t) in buf.iter_mut().zip(toks) {
                *slot = resolve(t)?;
            }
            Some(matches_tokens(&buf[..toks.len()], text))
        } else {
            let resolved: Option<Vec<_>> = toks.iter().map(resolve).collect();
            Some(matches_tokens(&resolved?, text))
        }
    }

    fn resolve_tok<'a>(&'a self, t: &'a TTok, ctx: &'a RequestContext) -> Option<TokRef<'a>> {
        Some(match t {
            TTok::Lit(l) => TokRef::Lit(l),
            TTok::One => TokRef::One,
            TTok::Star => TokRef::Star,
            TTok::Var(i) => match &self.segs[*i] {
                Seg::Var { key, default } => TokRef::Lit(lookup(ctx, key, default.as_deref())?),
                _ => return None,
            },
        })
    }

    /// The text with variables substituted, or `None` if one cannot be resolved.
    pub fn resolve_string(&self, ctx: &RequestContext) -> Option<String> {
        let mut out = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Text(t) => out.push_str(t),
                Seg::Escaped(c) => out.push(*c),
                Seg::Var { key, default } => out.push_str(lookup(ctx, key, default.as_deref())?),
            }
        }
        Some(out)
    }

    /// The resolved characters, each marked `true` if it came from policy text (so `*` and `?`
    /// there are wildcards) and `false` if it was substituted or escaped (always literal).
    pub fn resolve_marked(&self, ctx: &RequestContext) -> Option<Vec<(char, bool)>> {
        let mut out = Vec::new();
        for seg in &self.segs {
            match seg {
                Seg::Text(t) => out.extend(t.chars().map(|c| (c, true))),
                Seg::Escaped(c) => out.push((*c, false)),
                Seg::Var { key, default } => {
                    out.extend(
                        lookup(ctx, key, default.as_deref())?
                            .chars()
                            .map(|c| (c, false)),
                    );
                }
            }
        }
        Some(out)
    }
}

fn compile(segs: &[Seg], wild: bool) -> Vec<TTok> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut Vec<TTok>| {
        if !lit.is_empty() {
            out.push(TTok::Lit(std::mem::take(lit).into_boxed_str()));
        }
    };
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Seg::Text(t) => {
                for c in t.chars() {
                    match c {
                        '*' if wild => {
                            flush(&mut lit, &mut out);
                            out.push(TTok::Star);
                        }
                        '?' if wild => {
                            flush(&mut lit, &mut out);
                            out.push(TTok::One);
                        }
                        c => lit.push(c),
                    }
                }
            }
            Seg::Escaped(c) => lit.push(*c),
            Seg::Var { .. } => {
                flush(&mut lit, &mut out);
                out.push(TTok::Var(i));
            }
        }
    }
    flush(&mut lit, &mut out);
    out
}

fn push_text(segs: &mut Vec<Seg>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Seg::Text(prev)) = segs.last_mut() {
        prev.push_str(text);
    } else {
        segs.push(Seg::Text(text.to_string()));
    }
}

/// Reads the inside of `${…}`.
fn parse_inner(inner: &str) -> Option<Seg> {
    match inner {
        "*" => return Some(Seg::Escaped('*')),
        "?" => return Some(Seg::Escaped('?')),
        "$" => return Some(Seg::Escaped('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => (k.trim(), Some(parse_default(d.trim())?)),
        None => (inner.trim(), None),
    };
    let valid =
        !key.is_empty() && !key.contains(char::is_whitespace) && !key.contains(['$', '{', '\'']);
    valid.then(|| Seg::Var {
        key: KeyName::new(key),
        default,
    })
}

fn parse_default(d: &str) -> Option<String> {
    let body = d.strip_prefix('\'')?.strip_suffix('\'')?;
    (!body.contains('\'')).then(|| body.to_string())
}

/// A single-valued context key, or the default. Multivalued keys are not variables.
fn lookup<'a>(ctx: &'a RequestContext, key: &KeyName, default: Option<&'a str>) -> Option<&'a str> {
    match ctx.get_key(key) {
        Some([one]) => Some(one.as_str()),
        Some(_) => None,
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::PrincipalInfo;

    fn ctx() -> RequestContext {
        let user = PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/alice", "AIDAEXAMPLE")
            .with_tag("team", "a*b");
        RequestContext::new(user, "s3:GetObject").with_values("multi", ["x", "y"])
    }

    #[test]
    fn plain_text_is_not_a_template() {
        assert!(Template::parse("arn:aws:s3:::bucket/*").is_none());
        assert!(Template::parse("${unterminated").is_none());
        assert!(Template::parse("${}").is_none());
    }

    #[test]
    fn substitutes_variables_case_insensitively() {
        let t = Template::parse("home/${AWS:UserName}/*").unwrap();
        assert_eq!(t.resolve_string(&ctx()).unwrap(), "home/alice/*");
        assert_eq!(t.matches(&ctx(), "home/alice/file", true), Some(true));
        assert_eq!(t.matches(&ctx(), "home/bob/file", true), Some(false));
    }

    #[test]
    fn escapes_and_substituted_text_are_literal() {
        let t = Template::parse("a${*}b${?}c${$}").unwrap();
        assert_eq!(t.resolve_string(&ctx()).unwrap(), "a*b?c$");
        assert_eq!(t.matches(&ctx(), "a*b?c$", true), Some(true));
        assert_eq!(t.matches(&ctx(), "aXbYc$", true), Some(false));
        let marked = t.resolve_marked(&ctx()).unwrap();
        let escaped = marked.iter().filter(|(c, _)| matches!(c, '*' | '?' | '$'));
        assert!(escaped.clone().count() == 3 && escaped.clone().all(|&(_, wild)| !wild));
    }

    #[test]
    fn matches_without_building() {
        let t = Template::parse("home/${aws:username}/*").unwrap();
        assert_eq!(t.matches(&ctx(), "home/alice/x", true), Some(true));
        assert_eq!(t.matches(&ctx(), "home/alice/x", false), Some(false));
        assert_eq!(t.matches(&ctx(), "home/alice/*", false), Some(true));
        assert_eq!(t.matches(&ctx(), "home/bob/x", true), Some(false));
        let tag = Template::parse("${aws:PrincipalTag/team}").unwrap();
        assert_eq!(tag.matches(&ctx(), "a*b", true), Some(true));
        assert_eq!(tag.matches(&ctx(), "aXb", true), Some(false));
        assert_eq!(
            Template::parse("${nope}")
                .unwrap()
                .matches(&ctx(), "", true),
            None
        );
        let long = "${aws:username}-".repeat(20);
        let t = Template::parse(&long).unwrap();
        assert_eq!(t.matches(&ctx(), &"alice-".repeat(20), false), Some(true));
    }

    #[test]
    fn defaults_and_unresolved() {
        let t = Template::parse("${aws:TokenIssueTime, 'none'}").unwrap();
        assert_eq!(t.resolve_string(&ctx()).unwrap(), "none");
        assert!(Template::parse("x/${aws:TokenIssueTime}")
            .unwrap()
            .resolve_string(&ctx())
            .is_none());
        assert!(Template::parse("${multi}")
            .unwrap()
            .resolve_string(&ctx())
            .is_none());
        // A malformed default leaves the text as it is.
        assert!(Template::parse("${aws:username, anonymous}").is_none());
    }
}
