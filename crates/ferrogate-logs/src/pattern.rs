//! Filter patterns (CloudWatch Logs User Guide, "Filter pattern syntax for metric filters,
//! subscription filters, and filter log events"), the two forms FilterLogEvents needs:
//!
//! - **terms**: `ERROR`, `"quoted phrase"` (AND of every term), `?ERROR ?WARN` (at least
//!   one of the `?` terms), `ERROR -Exiting` (`-` excludes). Matching is case-sensitive and
//!   looks for the term anywhere in the message.
//! - **JSON**: `{ $.field = value }` with `$.a.b[0]` selectors, `=`/`!=` on strings (a `*`
//!   matches any run of characters) or numbers, `<`, `>`, `<=`, `>=` on numbers, `IS TRUE`,
//!   `IS FALSE`, `IS NULL`, `NOT EXISTS`, combined with `&&`, `||` and parentheses. A message
//!   that is not a JSON object matches no JSON pattern.
//!
//! Space-delimited patterns (`[ip, user, …]`) and regular expressions (`%…%`) are refused
//! with `InvalidParameterException` rather than matched some other way.

use memchr::memmem::Finder;
use serde_json::Value;

use crate::LogsError;

/// A parsed filter pattern.
#[derive(Debug)]
pub enum Pattern {
    /// Matches every event (an empty pattern).
    All,
    /// Terms.
    Terms(Terms),
    /// A JSON pattern.
    Json(Expr),
}

/// The terms of a text pattern.
#[derive(Debug, Default)]
pub struct Terms {
    all: Vec<Finder<'static>>,
    any: Vec<Finder<'static>>,
    none: Vec<Finder<'static>>,
}

/// A JSON pattern's expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// One comparison.
    Test(Vec<Step>, Test),
}

/// One selector step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name`
    Field(String),
    /// `[n]`
    Index(usize),
}

/// What a selected value is tested for.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `= "str"` (with `*` wildcards), or `!=` when the flag is false.
    Str(bool, String),
    /// A numeric comparison.
    Num(Cmp, f64),
    /// `IS TRUE` / `IS FALSE`.
    Bool(bool),
    /// `IS NULL`.
    Null,
    /// `NOT EXISTS`.
    Missing,
}

/// Numeric comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

fn invalid(reason: &str) -> LogsError {
    LogsError::invalid(format!("Invalid filter pattern: {reason}"))
}

impl Pattern {
    /// Parses `text` (at most 1024 characters, checked by the caller).
    pub fn parse(text: &str) -> Result<Self, LogsError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Pattern::All);
        }
        if t.starts_with('{') {
            let inner = t
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| invalid("a JSON pattern must end with '}'"))?;
            let mut p = Parser {
                s: inner.as_bytes(),
                at: 0,
            };
            let e = p.or()?;
            p.ws();
            if p.at != p.s.len() {
                return Err(invalid("unexpected text after the expression"));
            }
            return Ok(Pattern::Json(e));
        }
        if t.starts_with('[') {
            return Err(invalid("space-delimited patterns are not supported"));
        }
        if t.starts_with('%') {
            return Err(invalid("regular expressions are not supported"));
        }
        Ok(Pattern::Terms(parse_terms(t)?))
    }

    /// True when `message` matches.
    pub fn matches(&self, message: &[u8]) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(t) => t.matches(message),
            Pattern::Json(e) => match serde_json::from_slice::<Value>(message) {
                Ok(v @ Value::Object(_)) => e.eval(&v),
                _ => false,
            },
        }
    }
}

fn parse_terms(t: &str) -> Result<Terms, LogsError> {
    let mut terms = Terms::default();
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let kind = b[i];
        if matches!(kind, b'?' | b'-') {
            i += 1;
        }
        let term = if b.get(i) == Some(&b'"') {
            let end = t[i + 1..]
                .find('"')
                .ok_or_else(|| invalid("unterminated quoted term"))?;
            let q = &t[i + 1..i + 1 + end];
            i += end + 2;
            q.to_owned()
        } else {
            let end = t[i..]
                .find(|c: char| c.is_ascii_whitespace())
                .map_or(t.len(), |e| i + e);
            let w = &t[i..end];
            if w.contains('"') {
                return Err(invalid(&format!("a quote inside the term '{w}'")));
            }
            i = end;
            w.to_owned()
        };
        if term.is_empty() {
            return Err(invalid("an empty term"));
        }
        let f = Finder::new(term.as_bytes()).into_owned();
        match kind {
            b'?' => terms.any.push(f),
            b'-' => terms.none.push(f),
            _ => terms.all.push(f),
        }
    }
    Ok(terms)
}

impl Terms {
    fn matches(&self, m: &[u8]) -> bool {
        self.all.iter().all(|f| f.find(m).is_some())
            && !self.none.iter().any(|f| f.find(m).is_some())
            && (self.any.is_empty() || self.any.iter().any(|f| f.find(m).is_some()))
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.s[self.at..].starts_with(tok.as_bytes()) {
            self.at += tok.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, LogsError> {
        let mut e = self.and()?;
        while self.eat("||") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, LogsError> {
        let mut e = self.unary()?;
        while self.eat("&&") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, LogsError> {
        if self.eat("(") {
            let e = self.or()?;
            if !self.eat(")") {
                return Err(invalid("a missing ')'"));
            }
            return Ok(e);
        }
        let sel = self.selector()?;
        Ok(Expr::Test(sel, self.test()?))
    }

    fn selector(&mut self) -> Result<Vec<Step>, LogsError> {
        if !self.eat("$") {
            return Err(invalid("a selector must start with '$'"));
        }
        let mut steps = Vec::new();
        loop {
            match self.s.get(self.at) {
                Some(b'.') => {
                    self.at += 1;
                    let start = self.at;
                    while self.s.get(self.at).is_some_and(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'@' | b':')
                    }) {
                        self.at += 1;
                    }
                    if start == self.at {
                        return Err(invalid("an empty field name"));
                    }
                    let name = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
                    steps.push(Step::Field(name));
                }
                Some(b'[') => {
                    self.at += 1;
                    let start = self.at;
                    while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
                        self.at += 1;
                    }
                    let n = std::str::from_utf8(&self.s[start..self.at])
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .ok_or_else(|| invalid("an array index must be a number"))?;
                    if self.s.get(self.at) != Some(&b']') {
                        return Err(invalid("a missing ']'"));
                    }
                    self.at += 1;
                    steps.push(Step::Index(n));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(invalid("a selector names no field"));
        }
        Ok(steps)
    }

    fn test(&mut self) -> Result<Test, LogsError> {
        if self.eat("IS") {
            return if self.eat("TRUE") {
                Ok(Test::Bool(true))
            } else if self.eat("FALSE") {
                Ok(Test::Bool(false))
            } else if self.eat("NULL") {
                Ok(Test::Null)
            } else {
                Err(invalid("IS must be followed by TRUE, FALSE or NULL"))
            };
        }
        if self.eat("NOT") {
            return if self.eat("EXISTS") {
                Ok(Test::Missing)
            } else {
                Err(invalid("NOT must be followed by EXISTS"))
            };
        }
        let cmp = [
            ("!=", Cmp::Ne),
            ("<=", Cmp::Le),
            (">=", Cmp::Ge),
            ("=", Cmp::Eq),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ]
        .into_iter()
        .find(|(t, _)| self.eat(t))
        .map(|(_, c)| c)
        .ok_or_else(|| invalid("a comparison operator is missing"))?;
        self.ws();
        let (value, quoted) = self.value()?;
        if !quoted {
            if let Ok(n) = value.parse::<f64>() {
                return Ok(Test::Num(cmp, n));
            }
        }
        match cmp {
            Cmp::Eq => Ok(Test::Str(true, value)),
            Cmp::Ne => Ok(Test::Str(false, value)),
            _ => Err(invalid("only numbers compare with <, >, <= and >=")),
        }
    }

    fn value(&mut self) -> Result<(String, bool), LogsError> {
        let rest = &self.s[self.at..];
        if rest.first() == Some(&b'"') {
            let end = rest[1..]
                .iter()
                .position(|&c| c == b'"')
                .ok_or_else(|| invalid("unterminated quoted value"))?;
            self.at += end + 2;
            return Ok((String::from_utf8_lossy(&rest[1..=end]).into_owned(), true));
        }
        let end = rest
            .iter()
            .position(|&c| c.is_ascii_whitespace() || matches!(c, b')' | b'&' | b'|'))
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(invalid("a comparison has no value"));
        }
        self.at += end;
        Ok((String::from_utf8_lossy(&rest[..end]).into_owned(), false))
    }
}

impl Expr {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(v) && b.eval(v),
            Expr::Or(a, b) => a.eval(v) || b.eval(v),
            Expr::Test(sel, t) => {
                let mut cur = Some(v);
                for s in sel {
                    cur = match (cur, s) {
                        (Some(Value::Object(m)), Step::Field(f)) => m.get(f),
                        (Some(Value::Array(a)), Step::Index(i)) => a.get(*i),
                        _ => None,
                    };
                }
                test(cur, t)
            }
        }
    }
}

fn test(v: Option<&Value>, t: &Test) -> bool {
    match (t, v) {
        (Test::Missing, v) => v.is_none(),
        (_, None) => false,
        (Test::Null, Some(v)) => v.is_null(),
        (Test::Bool(b), Some(v)) => v.as_bool() == Some(*b),
        (Test::Str(eq, pat), Some(v)) => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return false,
            };
            glob(pat, &text) == *eq
        }
        (Test::Num(c, n), Some(v)) => {
            let Some(x) = v.as_f64() else { return false };
            match c {
                Cmp::Eq => x == *n,
                Cmp::Ne => x != *n,
                Cmp::Lt => x < *n,
                Cmp::Gt => x > *n,
                Cmp::Le => x <= *n,
                Cmp::Ge => x >= *n,
            }
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pat: &str, text: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, message, matches): the User Guide's examples and their edges.
    const TABLE: &[(&str, &str, bool)] = &[
        ("", "anything", true),
        ("ERROR", "[ERROR] disk full", true),
        ("ERROR", "[error] disk full", false),
        ("ERROR ARGUMENTS", "ERROR: bad ARGUMENTS", true),
        ("ERROR ARGUMENTS", "ERROR: bad arguments", false),
        (
            "\"Failed to process\"",
            "job 7: Failed to process input",
            true,
        ),
        ("\"Failed to process\"", "Failed  to process", false),
        ("?ERROR ?WARN", "WARN low disk", true),
        ("?ERROR ?WARN", "INFO all good", false),
        ("ERROR -Exiting", "ERROR: retrying", true),
        ("ERROR -Exiting", "ERROR: Exiting now", false),
        ("-\"health check\"", "GET /healthz ok", true),
        ("-\"health check\"", "a health check", false),
        (
            "{ $.level = \"error\" }",
            r#"{"level":"error","n":1}"#,
            true,
        ),
        ("{ $.level = \"error\" }", r#"{"level":"info"}"#, false),
        ("{ $.level = error }", r#"{"level":"error"}"#, true),
        ("{ $.level != \"error\" }", r#"{"level":"info"}"#, true),
        ("{ $.level != \"error\" }", r#"{"other":1}"#, false),
        ("{ $.user.id = 2 }", r#"{"user":{"id":2}}"#, true),
        ("{ $.user.id = 2 }", r#"{"user":{"id":"2"}}"#, false),
        ("{ $.latency > 100 }", r#"{"latency":150.5}"#, true),
        ("{ $.latency > 100 }", r#"{"latency":100}"#, false),
        ("{ $.latency >= 100 }", r#"{"latency":100}"#, true),
        ("{ $.latency < 1e2 }", r#"{"latency":99}"#, true),
        ("{ $.latency <= -1 }", r#"{"latency":-1}"#, true),
        ("{ $.code != 200 }", r#"{"code":500}"#, true),
        (
            "{ $.path = \"/api/*\" }",
            r#"{"path":"/api/v1/users"}"#,
            true,
        ),
        ("{ $.path = \"/api/*\" }", r#"{"path":"/web/api/"}"#, false),
        (
            "{ $.path = \"*users*\" }",
            r#"{"path":"/api/users/7"}"#,
            true,
        ),
        ("{ $.a = 1 && $.b = 2 }", r#"{"a":1,"b":2}"#, true),
        ("{ $.a = 1 && $.b = 2 }", r#"{"a":1,"b":3}"#, false),
        ("{ $.a = 1 || $.b = 2 }", r#"{"a":0,"b":2}"#, true),
        (
            "{ ($.a = 1 || $.a = 2) && $.b = 3 }",
            r#"{"a":2,"b":3}"#,
            true,
        ),
        (
            "{ ($.a = 1 || $.a = 2) && $.b = 3 }",
            r#"{"a":2,"b":4}"#,
            false,
        ),
        (
            "{ $.items[1].name = \"y\" }",
            r#"{"items":[{"name":"x"},{"name":"y"}]}"#,
            true,
        ),
        (
            "{ $.items[5].name = \"y\" }",
            r#"{"items":[{"name":"x"}]}"#,
            false,
        ),
        ("{ $.ok IS TRUE }", r#"{"ok":true}"#, true),
        ("{ $.ok IS FALSE }", r#"{"ok":true}"#, false),
        ("{ $.v IS NULL }", r#"{"v":null}"#, true),
        ("{ $.v IS NULL }", r#"{}"#, false),
        ("{ $.v NOT EXISTS }", r#"{}"#, true),
        ("{ $.v NOT EXISTS }", r#"{"v":1}"#, false),
        ("{ $.level = \"error\" }", "not json at all", false),
        ("{ $.level = \"error\" }", r#"["level","error"]"#, false),
    ];

    #[test]
    fn pattern_table() {
        for (pat, msg, want) in TABLE {
            let p = Pattern::parse(pat).unwrap_or_else(|e| panic!("{pat}: {e}"));
            assert_eq!(p.matches(msg.as_bytes()), *want, "{pat} on {msg}");
        }
    }

    #[test]
    fn refused_patterns() {
        for bad in [
            "{ $.a = 1",
            "{ a = 1 }",
            "{ $.a }",
            "{ $.a = 1 && }",
            "{ $.a > \"x\" }",
            "{ ($.a = 1 }",
            "{ $.a[x] = 1 }",
            "{ $. = 1 }",
            "{ $.a IS MAYBE }",
            "[ip, user]",
            "%ERR.*%",
            "\"unterminated",
            "ab\"c",
        ] {
            let e = Pattern::parse(bad).expect_err(bad);
            assert!(
                matches!(e, LogsError::InvalidParameterException(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc") && glob("a*c", "ac") && glob("*", ""));
        assert!(!glob("a*c", "ab") && !glob("abc", "abcd"));
        assert!(glob("*b*b*", "abab") && !glob("*b*b*", "ab"));
        assert!(!glob("aa*aa", "aaa"));
    }
}
