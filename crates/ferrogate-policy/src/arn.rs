//! ARN splitting and per-segment ARN matching.
//!
//! An ARN is `arn:partition:service:region:account-id:resource`; the resource part may itself
//! contain `:` and `/` (IAM User Guide, *IAM identifiers*). IAM matches `Resource` elements and the
//! `ArnLike`/`ArnEquals` operators segment by segment: "Each of the six colon-delimited components
//! of the ARN is checked separately and each can include multi-character match wildcards (*) or
//! single-character match wildcards (?)" (IAM User Guide, *Condition operators*, ARN section). So a
//! `*` in the region segment never swallows the account, which is why
//! `arn:aws:someservice:*:111122223333:finance/*` does not match
//! `arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`.

use crate::wildcard::Pattern;

/// Number of colon-delimited components in an ARN.
pub const ARN_SEGMENTS: usize = 6;

/// Splits `s` into its six components, or `None` if it is not an ARN. The sixth component keeps
/// any further colons.
pub fn split(s: &str) -> Option<[&str; ARN_SEGMENTS]> {
    let mut it = s.splitn(ARN_SEGMENTS, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn").then_some(parts)
}

/// The account component of an ARN, if `s` is an ARN with a non-empty account.
pub fn account_of(s: &str) -> Option<&str> {
    split(s).map(|p| p[4]).filter(|a| !a.is_empty())
}

/// A pattern compiled per ARN segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArnPattern {
    /// `*`: every value, ARN or not.
    Any,
    /// Six segment patterns.
    Segments(Box<[Pattern; ARN_SEGMENTS]>),
}

impl ArnPattern {
    /// Compiles a pattern string in which `*` and `?` are wildcards. Returns `None` if the text
    /// is neither `*` nor six colon-delimited components.
    pub fn wild(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(ArnPattern::Any);
        }
        let parts = split_pattern(text)?;
        Some(Self::from_segments(parts.map(Pattern::wild)))
    }

    /// Builds a pattern from a resolved policy variable template (see
    /// `Template::resolve_marked`): colons split segments wherever they came from, and `*` / `?`
    /// are wildcards only where they came from policy text.
    pub fn from_marked(chars: &[(char, bool)]) -> Option<Self> {
        if chars == [('*', true)] {
            return Some(ArnPattern::Any);
        }
        let mut segments: Vec<&[(char, bool)]> = Vec::with_capacity(ARN_SEGMENTS);
        let mut rest = chars;
        while segments.len() < ARN_SEGMENTS - 1 {
            let i = rest.iter().position(|&(c, _)| c == ':')?;
            segments.push(&rest[..i]);
            rest = &rest[i + 1..];
        }
        segments.push(rest);
        let first: String = segments[0].iter().map(|&(c, _)| c).collect();
        if first != "arn" {
            return None;
        }
        let mut pats = segments.into_iter().map(Pattern::from_marked);
        let arr = std::array::from_fn(|_| pats.next().unwrap_or_else(|| Pattern::literal("")));
        Some(Self::from_segments(arr))
    }

    /// Builds a pattern from already compiled segments.
    pub fn from_segments(segments: [Pattern; ARN_SEGMENTS]) -> Self {
        ArnPattern::Segments(Box::new(segments))
    }

    /// True if `value` (already split with [`split`]) matches. Values that are not ARNs match only
    /// [`ArnPattern::Any`].
    pub fn matches_split(&self, value: Option<&[&str; ARN_SEGMENTS]>) -> bool {
        match (self, value) {
            (ArnPattern::Any, _) => true,
            (ArnPattern::Segments(_), None) => false,
            (ArnPattern::Segments(segs), Some(v)) => {
                segs.iter().zip(v.iter()).all(|(p, s)| p.matches(s))
            }
        }
    }

    /// True if `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        self.matches_split(split(value).as_ref())
    }
}

/// Splits a pattern string into six components. The first component must be `arn` (a wildcard
/// there would make the pattern match non-ARN strings, which IAM does not do).
pub fn split_pattern(text: &str) -> Option<[&str; ARN_SEGMENTS]> {
    split(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_colons_in_resource() {
        let p = split("arn:aws:kms:us-east-1:111122223333:key/abc:def").unwrap();
        assert_eq!(
            p,
            [
                "arn",
                "aws",
                "kms",
                "us-east-1",
                "111122223333",
                "key/abc:def"
            ]
        );
        assert_eq!(split("arn:aws:s3:::bucket").unwrap()[5], "bucket");
        assert!(split("arn:aws:s3::bucket").is_none());
        assert!(split("*").is_none());
        assert!(split("urn:aws:s3:::bucket").is_none());
    }

    #[test]
    fn account_component() {
        assert_eq!(
            account_of("arn:aws:ecs:us-east-1:111122223333:cluster/a"),
            Some("111122223333")
        );
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert_eq!(account_of("bucket"), None);
    }

    #[test]
    fn wildcard_does_not_cross_segments() {
        // The example from the IAM User Guide, Condition operators, ARN section.
        let p = ArnPattern::wild("arn:aws:someservice:*:111122223333:finance/*").unwrap();
        let v = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!p.matches(v));
        assert!(Pattern::wild("arn:aws:someservice:*:111122223333:finance/*").matches(v));
        assert!(p.matches("arn:aws:someservice:us-east-2:111122223333:finance/a:b/c"));
    }

    #[test]
    fn any_and_non_arns() {
        assert!(ArnPattern::wild("*").unwrap().matches("anything"));
        assert!(ArnPattern::wild("arn:aws:s3").is_none());
        let p = ArnPattern::wild("arn:*:*:*:*:*").unwrap();
        assert!(p.matches("arn:aws:s3:::b"));
        assert!(!p.matches("not-an-arn"));
    }
}
