//! Glob patterns with IAM's two wildcards: `*` (any run of characters, possibly empty) and `?`
//! (exactly one character).
//!
//! IAM uses the same two wildcards in `Action`, `Resource`, `StringLike` and `ArnLike`
//! ("The values can include multi-character match wildcards (*) and single-character match
//! wildcards (?) anywhere in the string", IAM User Guide, *Condition operators*). Text that came
//! from a policy variable or from the `${*}`/`${?}` escapes must stay literal, so a pattern is a
//! list of tokens rather than a string: [`PatternBuilder::push_literal`] appends text whose `*`
//! and `?` mean themselves.

/// One token of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// Literal text, compared byte for byte.
    Lit(Box<str>),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, including none.
    Star,
}

/// A borrowed token: lets callers match a pattern assembled at request time (a policy variable
/// template) without allocating a [`Pattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokRef<'a> {
    /// Literal text.
    Lit(&'a str),
    /// `?`
    One,
    /// `*`
    Star,
}

trait AsTok {
    fn as_tok(&self) -> TokRef<'_>;
}

impl AsTok for Tok {
    fn as_tok(&self) -> TokRef<'_> {
        match self {
            Tok::Lit(l) => TokRef::Lit(l),
            Tok::One => TokRef::One,
            Tok::Star => TokRef::Star,
        }
    }
}

impl AsTok for TokRef<'_> {
    fn as_tok(&self) -> TokRef<'_> {
        *self
    }
}

/// Matches `text` against a token sequence.
pub fn matches_tokens(toks: &[TokRef<'_>], text: &str) -> bool {
    glob(toks, text)
}

/// A compiled glob pattern. Matching is case-sensitive; callers that need case-insensitive
/// matching (actions) lowercase both the pattern and the text once, up front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    kind: Kind,
}

/// Most patterns are plain text (action names, ARN segments) or `*`; they skip the glob loop and
/// one pointer hop.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Any,
    Literal(Box<str>),
    Glob(Box<[Tok]>),
}

/// Builds a [`Pattern`] from pieces of wildcard text and literal text.
#[derive(Debug, Default)]
pub struct PatternBuilder {
    toks: Vec<Tok>,
    lit: String,
}

impl PatternBuilder {
    /// Appends text in which `*` and `?` are wildcards.
    pub fn push_wild(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '*' => self.push_tok(Tok::Star),
                '?' => self.push_tok(Tok::One),
                c => self.lit.push(c),
            }
        }
    }

    /// Appends one character; `wild` says whether `*` / `?` are wildcards.
    pub fn push_char(&mut self, c: char, wild: bool) {
        match c {
            '*' if wild => self.push_tok(Tok::Star),
            '?' if wild => self.push_tok(Tok::One),
            c => self.lit.push(c),
        }
    }

    /// Appends text in which every character, including `*` and `?`, means itself.
    pub fn push_literal(&mut self, text: &str) {
        self.lit.push_str(text);
    }

    fn push_tok(&mut self, tok: Tok) {
        self.flush();
        // Consecutive stars are one star; merging keeps matching linear in practice.
        if tok == Tok::Star && self.toks.last() == Some(&Tok::Star) {
            return;
        }
        self.toks.push(tok);
    }

    fn flush(&mut self) {
        if !self.lit.is_empty() {
            let lit = std::mem::take(&mut self.lit);
            self.toks.push(Tok::Lit(lit.into_boxed_str()));
        }
    }

    /// Finishes the pattern.
    pub fn build(mut self) -> Pattern {
        self.flush();
        let kind = match self.toks.as_slice() {
            [] => Kind::Literal(Box::from("")),
            [Tok::Star] => Kind::Any,
            [Tok::Lit(l)] => Kind::Literal(l.clone()),
            _ => Kind::Glob(self.toks.into_boxed_slice()),
        };
        Pattern { kind }
    }
}

impl Pattern {
    /// Compiles `text`, treating `*` and `?` as wildcards.
    pub fn wild(text: &str) -> Self {
        let mut b = PatternBuilder::default();
        b.push_wild(text);
        b.build()
    }

    /// Builds a pattern from characters marked wildcard-capable (`true`) or literal (`false`).
    pub fn from_marked(chars: &[(char, bool)]) -> Self {
        let mut b = PatternBuilder::default();
        for &(c, wild) in chars {
            b.push_char(c, wild);
        }
        b.build()
    }

    /// A pattern that matches exactly `text`.
    pub fn literal(text: &str) -> Self {
        let mut b = PatternBuilder::default();
        b.push_literal(text);
        b.build()
    }

    /// True if the pattern is a single `*`, which matches every string.
    pub fn matches_everything(&self) -> bool {
        self.kind == Kind::Any
    }

    /// The same pattern with its literal text lowercased (for case-insensitive matching).
    pub fn to_lowercase(&self) -> Self {
        let lower = |l: &str| l.to_lowercase().into_boxed_str();
        let kind = match &self.kind {
            Kind::Any => Kind::Any,
            Kind::Literal(l) => Kind::Literal(lower(l)),
            Kind::Glob(toks) => Kind::Glob(
                toks.iter()
                    .map(|t| match t {
                        Tok::Lit(l) => Tok::Lit(lower(l)),
                        other => other.clone(),
                    })
                    .collect(),
            ),
        };
        Pattern { kind }
    }

    /// True if `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Literal(l) => fast_eq(l, text),
            Kind::Glob(toks) => glob(toks, text),
        }
    }
}

/// Byte equality without a call into libc: policy literals and key names are short, and a
/// `memcmp` call per comparison was the largest single cost of a decision.
#[inline]
pub fn fast_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    i == n || word(a, n - 8) == word(b, n - 8)
}

/// `text[at..]` starts with `lit`. Compared as bytes: `at` is a character boundary and `lit` is
/// whole UTF-8, so a byte match also ends on a boundary (slicing the `str` could panic mid-char).
#[inline]
fn starts_with_at(text: &str, at: usize, lit: &str) -> bool {
    let t = &text.as_bytes()[at..];
    t.len() >= lit.len() && bytes_eq(&t[..lit.len()], lit.as_bytes())
}

/// Length in bytes of the character starting at byte `i` of `s` (`i` < `s.len()`).
fn char_len(s: &str, i: usize) -> usize {
    match s.as_bytes()[i] {
        b if b < 0x80 => 1,
        _ => s[i..].chars().next().map_or(1, char::len_utf8),
    }
}

/// Greedy matching with one backtrack point: on a mismatch, the most recent `*` absorbs one more
/// character. Only the latest star needs revisiting because it can absorb anything an earlier star
/// could, so this is linear in the common case and O(len(text) x len(pattern)) at worst.
fn glob<T: AsTok>(toks: &[T], text: &str) -> bool {
    let (mut ti, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(ti) {
            let advanced = match tok.as_tok() {
                // A trailing star matches whatever is left.
                TokRef::Star if ti + 1 == toks.len() => return true,
                TokRef::Star => {
                    star = Some((ti + 1, si));
                    ti += 1;
                    continue;
                }
                TokRef::One if si < text.len() => Some(si + char_len(text, si)),
                TokRef::Lit(l) if starts_with_at(text, si, l) => Some(si + l.len()),
                _ => None,
            };
            if let Some(next) = advanced {
                si = next;
                ti += 1;
                continue;
            }
        } else if si == text.len() {
            return true;
        }
        match star {
            Some((sti, ssi)) if ssi < text.len() => {
                let next = ssi + char_len(text, ssi);
                star = Some((sti, next));
                ti = sti;
                si = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(Pattern::wild("s3:GetObject").matches("s3:GetObject"));
        assert!(!Pattern::wild("s3:GetObject").matches("s3:GetObjects"));
        assert!(Pattern::wild("s3:Get*").matches("s3:Get"));
        assert!(Pattern::wild("s3:Get*").matches("s3:GetObjectAcl"));
        assert!(Pattern::wild("iam:*AccessKey*").matches("iam:UpdateAccessKeys"));
        assert!(Pattern::wild("a?c").matches("abc"));
        assert!(!Pattern::wild("a?c").matches("ac"));
        assert!(Pattern::wild("*").matches(""));
        assert!(Pattern::wild("").matches(""));
        assert!(!Pattern::wild("").matches("x"));
        assert!(Pattern::wild("*a*b*").matches("xxaxxbxx"));
        assert!(!Pattern::wild("*a*b").matches("xxaxxbxxc"));
    }

    #[test]
    fn literals_never_split_a_character() {
        // "é" is two bytes; a one-byte literal must not be compared against half of it.
        assert!(!Pattern::wild("*a").matches("é"));
        assert!(Pattern::wild("*é").matches("aé"));
        assert!(!Pattern::wild("?a*").matches("éé"));
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        assert!(Pattern::wild("caf?").matches("café"));
        assert!(Pattern::wild("?").matches("€"));
        assert!(!Pattern::wild("??").matches("€"));
    }

    #[test]
    fn literal_text_keeps_wildcard_characters() {
        let mut b = PatternBuilder::default();
        b.push_wild("home/");
        b.push_literal("a*b?");
        b.push_wild("/*");
        let p = b.build();
        assert!(p.matches("home/a*b?/x"));
        assert!(!p.matches("home/aXbY/x"));
        assert!(Pattern::literal("*").matches("*"));
        assert!(!Pattern::literal("*").matches("x"));
    }

    #[test]
    fn fast_eq_agrees_with_eq() {
        let words = [
            "",
            "a",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
        ];
        for a in words {
            for b in words {
                assert_eq!(fast_eq(a, b), a == b, "{a} {b}");
            }
            let mut changed = a.to_string().into_bytes();
            if let Some(last) = changed.last_mut() {
                *last = b'Z';
                assert!(!fast_eq(a, std::str::from_utf8(&changed).unwrap()));
            }
        }
    }

    #[test]
    fn stars_are_merged() {
        assert_eq!(Pattern::wild("a***b"), Pattern::wild("a*b"));
        assert!(Pattern::wild("**").matches_everything());
    }
}
