//! Condition operator names.
//!
//! The families and names are those of the IAM User Guide, *IAM JSON policy elements: Condition
//! operators*. `…IfExists` may suffix every operator except `Null`; `ForAllValues:` and
//! `ForAnyValue:` may prefix them (*Multivalued context keys*).

/// Declares [`Operator`], the list of all of them and their names, from one list (the
/// variant names are the operator names).
macro_rules! operators {
    ($($op:ident),* $(,)?) => {
        /// A condition operator without its `IfExists` suffix or set prefix.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // The variant names are the operator names.
        pub enum Operator {
            $($op),*
        }

        const ALL: [Operator; [$(stringify!($op)),*].len()] = [$(Operator::$op),*];

        impl Operator {
            /// The operator's name as written in policies.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operator::$op => stringify!($op)),*
                }
            }
        }
    };
}

operators!(
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
);

/// How an operator reads its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Case-sensitive text.
    String,
    /// Text compared after lowercasing both sides.
    StringIgnoreCase,
    /// Text with `*` / `?` wildcards.
    StringLike,
    /// Exact decimals.
    Numeric,
    /// ISO 8601 or epoch seconds.
    Date,
    /// `true` / `false`.
    Bool,
    /// Base64 bytes.
    Binary,
    /// CIDR blocks.
    Ip,
    /// ARNs matched per segment, with wildcards.
    Arn,
    /// Key presence.
    Null,
}

/// The order relation a `Numeric*` / `Date*` operator tests, request value on the left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `==` (also the positive side of the `NotEquals` forms).
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Operator {
    /// The operator spelled exactly `name` (names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|op| op.name() == name)
    }

    /// True for the negated forms, whose result is the negation of their positive counterpart
    /// and which are *true* when the key is missing ("If the policy condition requires that the key
    /// is not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
    /// condition is true").
    pub fn is_negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// How the operator reads values.
    pub fn family(self) -> Family {
        use Operator::*;
        match self {
            StringEquals | StringNotEquals => Family::String,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => Family::StringIgnoreCase,
            StringLike | StringNotLike => Family::StringLike,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Family::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Family::Date,
            Bool => Family::Bool,
            BinaryEquals => Family::Binary,
            IpAddress | NotIpAddress => Family::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => Family::Arn,
            Null => Family::Null,
        }
    }

    /// The relation of a `Numeric*` / `Date*` operator (`Eq` for everything else).
    pub fn relation(self) -> Relation {
        use Operator::*;
        match self {
            NumericLessThan | DateLessThan => Relation::Lt,
            NumericLessThanEquals | DateLessThanEquals => Relation::Le,
            NumericGreaterThan | DateGreaterThan => Relation::Gt,
            NumericGreaterThanEquals | DateGreaterThanEquals => Relation::Ge,
            _ => Relation::Eq,
        }
    }

    /// True if policy variables are substituted in this operator's values: the string and ARN
    /// operators, and `Bool` (the *Condition operators* page: "You can use a policy variable with
    /// the Boolean condition operator").
    pub fn takes_variables(self) -> bool {
        matches!(
            self.family(),
            Family::String
                | Family::StringIgnoreCase
                | Family::StringLike
                | Family::Arn
                | Family::Bool
        )
    }
}

impl Relation {
    /// Applies the relation to an ordering of request value against policy value.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relation::Eq => ord == Equal,
            Relation::Lt => ord == Less,
            Relation::Le => ord != Greater,
            Relation::Gt => ord == Greater,
            Relation::Ge => ord != Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in ALL {
            assert_eq!(Operator::from_name(op.name()), Some(op));
        }
        assert_eq!(Operator::from_name("stringequals"), None);
        assert_eq!(Operator::from_name("StringEqualsIfExists"), None);
    }

    #[test]
    fn negated_operators() {
        let negated: Vec<_> = ALL
            .into_iter()
            .filter(|o| o.is_negated())
            .map(Operator::name)
            .collect();
        assert_eq!(
            negated,
            [
                "StringNotEquals",
                "StringNotEqualsIgnoreCase",
                "StringNotLike",
                "NumericNotEquals",
                "DateNotEquals",
                "NotIpAddress",
                "ArnNotEquals",
                "ArnNotLike"
            ]
        );
    }
}
