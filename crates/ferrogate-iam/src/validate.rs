//! Parameter constraints with IAM's `ValidationError` wording:
//! `1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: Member must …`.

use crate::IamError;

/// Collects constraint violations of one request.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<String>,
}

/// IAM names are ASCII: `\w` in IAM's patterns means `[A-Za-z0-9_]`. Accepting other
/// letters would let two spellings reach one entity through case folding (the Kelvin sign
/// folds to `k`) while policies see a different name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || "+=,.@-".contains(c)
}

impl Checks {
    /// A new, empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, value: &str, member: &str, constraint: &str) {
        self.errors.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: Member must {constraint}"
        ));
    }

    /// Length in characters within `min..=max`.
    pub fn length(&mut self, value: &str, member: &str, min: usize, max: usize) -> &mut Self {
        let n = value.chars().count();
        if n < min {
            self.fail(
                value,
                member,
                &format!("have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.fail(
                value,
                member,
                &format!("have length less than or equal to {max}"),
            );
        }
        self
    }

    /// A tag key (`[\p{L}\p{Z}\p{N}_.:/=+\-@]+`, 1–128) or value (the same characters,
    /// 0–256), as IAM's model defines them.
    pub fn tag(&mut self, value: &str, member: &str, key: bool) -> &mut Self {
        let (min, max) = if key { (1, 128) } else { (0, 256) };
        self.length(value, member, min, max);
        let ok = |c: char| {
            c.is_alphanumeric() || c.is_whitespace() && !c.is_control() || "_.:/=+-@".contains(c)
        };
        if !value.chars().all(ok) {
            let star = if key { '+' } else { '*' };
            self.fail(
                value,
                member,
                &format!("satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]{star}"),
            );
        }
        self
    }

    /// `[\w+=,.@-]+` with a length, as user, role, group and policy names.
    pub fn name(&mut self, value: &str, member: &str, max: usize) -> &mut Self {
        self.length(value, member, 1, max);
        if !value.is_empty() && !value.chars().all(is_name_char) {
            self.fail(
                value,
                member,
                "satisfy regular expression pattern: [\\w+=,.@-]+",
            );
        }
        self
    }

    /// A user/role/group path: `/` or `/…/` of printable ASCII, up to 512.
    pub fn path(&mut self, value: &str, member: &str) -> &mut Self {
        self.length(value, member, 1, 512);
        let ok = value == "/"
            || (value.len() >= 2
                && value.starts_with('/')
                && value.ends_with('/')
                && value.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        if !value.is_empty() && !ok {
            self.fail(
                value,
                member,
                "satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
            );
        }
        self
    }

    /// A path prefix: `/` followed by printable ASCII.
    pub fn path_prefix(&mut self, value: &str, member: &str) -> &mut Self {
        self.length(value, member, 1, 512);
        let well_formed =
            value.starts_with('/') && value.bytes().all(|b| (0x21..=0x7f).contains(&b));
        if !value.is_empty() && !well_formed {
            self.fail(
                value,
                member,
                "satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
            );
        }
        self
    }

    /// A value from an enumeration.
    pub fn one_of(&mut self, value: &str, member: &str, allowed: &[&str]) -> &mut Self {
        if !allowed.contains(&value) {
            self.fail(
                value,
                member,
                &format!("satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
        self
    }

    /// An integer range.
    pub fn range(&mut self, value: i64, member: &str, min: i64, max: i64) -> &mut Self {
        if value < min {
            self.fail(
                &value.to_string(),
                member,
                &format!("have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.fail(
                &value.to_string(),
                member,
                &format!("have value less than or equal to {max}"),
            );
        }
        self
    }

    /// `[\w]+` (access key ids), with a length.
    pub fn word(&mut self, value: &str, member: &str, min: usize, max: usize) -> &mut Self {
        self.length(value, member, min, max);
        if !value.is_empty() && !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.fail(value, member, "satisfy regular expression pattern: [\\w]+");
        }
        self
    }

    /// Policy document characters: tab, LF, CR and U+0020–U+00FF, as IAM's model allows.
    pub fn policy_chars(&mut self, value: &str, member: &str, max: usize) -> &mut Self {
        self.length(value, member, 1, max);
        if !value
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            self.errors.push(format!(
                "Value at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
            ));
        }
        self
    }

    /// The result: `Ok` or one `ValidationError` listing every violation.
    pub fn done(&mut self) -> Result<(), IamError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(IamError::ValidationError(format!(
                "1 validation error detected: {}",
                self.errors[0]
            ))),
            n => Err(IamError::ValidationError(format!(
                "{n} validation errors detected: {}",
                self.errors.join("; ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<(), IamError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn names() {
        assert!(Checks::new()
            .name("bob.smith+x@y=z,w-1_2", "userName", 64)
            .done()
            .is_ok());
        assert_eq!(
            msg(Checks::new().name("bad name", "userName", 64).done()),
            "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        assert!(
            msg(Checks::new().name(&"a".repeat(65), "userName", 64).done())
                .contains("length less than or equal to 64")
        );
        assert!(msg(Checks::new().name("", "userName", 64).done())
            .contains("length greater than or equal to 1"));
    }

    #[test]
    fn paths_and_several_errors() {
        assert!(Checks::new()
            .path("/", "path")
            .path("/a/b/", "path")
            .done()
            .is_ok());
        for bad in ["a/", "/a", "/a b/"] {
            assert!(Checks::new().path(bad, "path").done().is_err(), "{bad}");
        }
        let m = msg(Checks::new()
            .name("x y", "userName", 64)
            .path("nope", "path")
            .done());
        assert!(m.starts_with("2 validation errors detected: "), "{m}");
        assert!(m.contains("; "), "{m}");
    }

    #[test]
    fn tags() {
        assert!(Checks::new()
            .tag("team:env/x=1+a@b", "k", true)
            .tag("", "v", false)
            .tag("Ünïcode value 42", "v", false)
            .done()
            .is_ok());
        let m = msg(Checks::new()
            .tag("a\nb", "tags.1.member.value", false)
            .done());
        assert!(m.contains("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"), "{m}");
        assert!(Checks::new().tag("", "k", true).done().is_err());
        assert!(Checks::new().tag("a;b", "k", true).done().is_err());
        assert!(Checks::new().tag("<x>", "v", false).done().is_err());
    }

    #[test]
    fn enums_and_ranges() {
        assert!(Checks::new()
            .one_of("Active", "status", &["Active", "Inactive"])
            .done()
            .is_ok());
        assert!(msg(Checks::new()
            .one_of("On", "status", &["Active", "Inactive"])
            .done())
        .contains("enum value set: [Active, Inactive]"));
        assert!(msg(Checks::new().range(0, "maxItems", 1, 1000).done())
            .contains("greater than or equal to 1"));
        assert!(msg(Checks::new().range(1001, "maxItems", 1, 1000).done())
            .contains("less than or equal to 1000"));
    }
}
