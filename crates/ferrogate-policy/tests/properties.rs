//! Property tests: wildcard and ARN matching against simple reference implementations, and
//! invariants of the operators and of the evaluator.

mod common;

use common::*;
use ferrogate_policy::matching::{split_arn, ArnPattern, Cidr, Decimal, Pattern, Timestamp};
use ferrogate_policy::{DecisionEffect, RequestContext};
use proptest::prelude::*;

/// Reference glob matcher: dynamic programming over characters, no regexes, no backtracking
/// tricks. `dp[i][j]` says whether `p[i..]` matches `t[j..]`.
fn reference(p: &str, t: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
    let mut dp = vec![vec![false; t.len() + 1]; p.len() + 1];
    dp[p.len()][t.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=t.len()).rev() {
            dp[i][j] = match p[i] {
                '*' => dp[i + 1][j] || (j < t.len() && dp[i][j + 1]),
                '?' => j < t.len() && dp[i + 1][j + 1],
                c => j < t.len() && t[j] == c && dp[i + 1][j + 1],
            };
        }
    }
    dp[0][0]
}

/// Per-segment reference for ARN patterns.
fn reference_arn(p: &str, v: &str) -> bool {
    if p == "*" {
        return true;
    }
    match (split_arn(p), split_arn(v)) {
        (Some(ps), Some(vs)) => ps.iter().zip(vs.iter()).all(|(a, b)| reference(a, b)),
        _ => false,
    }
}

fn pattern_text() -> impl Strategy<Value = String> {
    "[ab*?é:/]{0,8}"
}

fn text() -> impl Strategy<Value = String> {
    "[abé:/]{0,10}"
}

fn segment() -> impl Strategy<Value = String> {
    "[ab*?/]{0,4}"
}

fn arn_pattern() -> impl Strategy<Value = String> {
    (segment(), segment(), segment(), segment(), "[ab*?:/]{0,6}")
        .prop_map(|(a, b, c, d, e)| format!("arn:{a}:{b}:{c}:{d}:{e}"))
}

fn arn_value() -> impl Strategy<Value = String> {
    (
        "[ab/]{0,3}",
        "[ab/]{0,3}",
        "[ab/]{0,3}",
        "[ab/]{0,3}",
        "[ab:/]{0,6}",
    )
        .prop_map(|(a, b, c, d, e)| format!("arn:{a}:{b}:{c}:{d}:{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn glob_agrees_with_reference(p in pattern_text(), t in text()) {
        prop_assert_eq!(Pattern::wild(&p).matches(&t), reference(&p, &t), "pattern {:?} text {:?}", p, t);
    }

    #[test]
    fn star_matches_everything(t in ".{0,20}") {
        prop_assert!(Pattern::wild("*").matches(&t));
        prop_assert!(Pattern::wild("**").matches(&t));
    }

    #[test]
    fn literal_matches_itself_only(s in ".{0,12}", other in ".{0,12}") {
        prop_assert!(Pattern::literal(&s).matches(&s));
        prop_assert_eq!(Pattern::literal(&s).matches(&other), s == other);
    }

    #[test]
    fn wildcard_free_text_is_exact(s in "[a-z:/]{0,12}", other in "[a-z:/]{0,12}") {
        prop_assert_eq!(Pattern::wild(&s).matches(&other), s == other);
    }

    #[test]
    fn prefix_star_matches_every_extension(prefix in "[a-z]{0,6}", rest in ".{0,8}") {
        let t = format!("{prefix}{rest}");
        let p = format!("{prefix}*");
        prop_assert!(Pattern::wild(&p).matches(&t));
    }

    #[test]
    fn arn_matching_agrees_with_per_segment_reference(p in arn_pattern(), v in arn_value()) {
        let compiled = ArnPattern::wild(&p).expect("six segments");
        prop_assert_eq!(compiled.matches(&v), reference_arn(&p, &v), "pattern {:?} value {:?}", p, v);
    }

    #[test]
    fn arn_matches_itself(v in arn_value()) {
        prop_assert!(ArnPattern::wild(&v).unwrap().matches(&v));
        prop_assert!(ArnPattern::wild("arn:*:*:*:*:*").unwrap().matches(&v));
    }

    #[test]
    fn segment_wildcards_never_absorb_a_colon(region in "[a-z0-9-]{1,8}", extra in "[a-z0-9]{1,8}") {
        // A region wildcard cannot swallow a colon and the next segment.
        let p = ArnPattern::wild("arn:aws:svc:*:111122223333:res").unwrap();
        let shifted = format!("arn:aws:svc:{region}:{extra}:111122223333:res");
        prop_assert!(!p.matches(&shifted));
        let ok = format!("arn:aws:svc:{region}:111122223333:res");
        prop_assert!(p.matches(&ok));
    }

    #[test]
    fn actions_are_case_insensitive(op in "[A-Za-z]{1,12}", flips in proptest::collection::vec(any::<bool>(), 12)) {
        let flip = |s: &str, offset: usize| -> String {
            s.chars().enumerate().map(|(i, c)| if flips[(i + offset) % 12] { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
        };
        let policy = identity(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"{}:{}","Resource":"*"}}}}"#, flip("svc", 0), flip(&op, 3)));
        let ctx = RequestContext::new(alice(), format!("{}:{}", flip("svc", 5), flip(&op, 7)));
        prop_assert!(decide_identity(&ctx, &[policy]).is_allowed());
    }

    #[test]
    fn decimal_order_agrees_with_integers(a in any::<i64>(), b in any::<i64>()) {
        let (da, db) = (Decimal::parse(&a.to_string()).unwrap(), Decimal::parse(&b.to_string()).unwrap());
        prop_assert_eq!(da.cmp(&db), a.cmp(&b));
    }

    #[test]
    fn decimal_order_agrees_with_scaled_decimals(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000) {
        let fmt = |x: i64| format!("{}{}.{:03}", if x < 0 { "-" } else { "" }, x.abs() / 1000, x.abs() % 1000);
        let (da, db) = (Decimal::parse(&fmt(a)).unwrap(), Decimal::parse(&fmt(b)).unwrap());
        prop_assert_eq!(da.cmp(&db), a.cmp(&b));
    }

    #[test]
    fn dates_round_trip_and_order(a in -2_000_000_000i64..8_000_000_000, b in -2_000_000_000i64..8_000_000_000) {
        let (ta, tb) = (Timestamp::parse(&ferrogate_policy::matching::format_iso8601(a)).unwrap(),
                        Timestamp::parse(&ferrogate_policy::matching::format_iso8601(b)).unwrap());
        prop_assert_eq!(ta, Timestamp::from_epoch_seconds(a));
        prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
    }

    #[test]
    fn ipv4_blocks_agree_with_mask_arithmetic(net in any::<u32>(), addr in any::<u32>(), prefix in 0u8..=32) {
        let c = Cidr::parse(&format!("{}/{prefix}", std::net::Ipv4Addr::from(net))).unwrap();
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
        prop_assert_eq!(c.contains(std::net::Ipv4Addr::from(addr).into()), net & mask == addr & mask);
    }

    #[test]
    fn negated_string_operators_are_complements(policy_value in "[ab]{0,3}", request in "[ab]{0,3}") {
        let doc = |op: &str| identity(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"svc:Act","Resource":"*","Condition":{{"{op}":{{"svc:k":"{policy_value}"}}}}}}}}"#));
        let ctx = RequestContext::new(alice(), "svc:Act").with("svc:k", request.as_str());
        for (pos, neg) in [("StringEquals", "StringNotEquals"), ("StringLike", "StringNotLike")] {
            let p = decide_identity(&ctx, &[doc(pos)]).is_allowed();
            let n = decide_identity(&ctx, &[doc(neg)]).is_allowed();
            prop_assert!(p != n, "{} / {} on {:?} vs {:?}", pos, neg, policy_value, request);
        }
    }

    /// EL: "An explicit deny in any policy overrides any allows", whatever else is attached.
    #[test]
    fn an_applicable_deny_always_wins(actions in proptest::collection::vec("(ecs|s3|kms):[A-Z][a-z]{0,6}\\*?", 1..5)) {
        let allow = identity(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":{},"Resource":"*"}}}}"#, serde_json::to_string(&actions).unwrap()));
        let deny = identity(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#);
        for a in &actions {
            let ctx = RequestContext::new(alice(), a.trim_end_matches('*'));
            prop_assert_eq!(decide_identity(&ctx, &[allow.clone(), deny.clone()]).effect, DecisionEffect::ExplicitDeny);
        }
    }
}

/// Fragments that random documents are assembled from: valid and invalid pieces of every element.
const FRAGMENTS: &[&str] = &[
    r#""Effect":"Allow""#,
    r#""Effect":"Deny""#,
    r#""Effect":"allow""#,
    r#""Action":"*""#,
    r#""Action":["s3:Get*","ecs:?ist*"]"#,
    r#""NotAction":"iam:*""#,
    r#""Action":"x""#,
    r#""Resource":"*""#,
    r#""Resource":"arn:aws:s3:::b/${aws:username}/*""#,
    r#""NotResource":["arn:aws:ecs:*:*:cluster/*"]"#,
    r#""Resource":"arn:aws""#,
    r#""Principal":"*""#,
    r#""Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/r"]}"#,
    r#""NotPrincipal":{"Service":"ec2.amazonaws.com"}"#,
    r#""Condition":{"StringLike":{"s3:prefix":["${aws:username}/*",""]}}"#,
    r#""Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#,
    r#""Condition":{"NumericLessThanIfExists":{"s3:max-keys":"1e3"}}"#,
    r#""Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"}}"#,
    r#""Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::/0"]}}"#,
    r#""Condition":{"Null":{"x:y":true}}"#,
    r#""Condition":{"ArnLike":{"aws:SourceArn":"${aws:PrincipalArn}"}}"#,
    r#""Condition":{"BinaryEquals":{"x:b":"QQ=="}}"#,
    r#""Condition":{"Bool":{"aws:SecureTransport":"${x:flag}"}}"#,
    r#""Sid":"S1""#,
    r#""Sid":"a b""#,
    r#""Bogus":1"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The parser never panics, whatever the input (the policy-parse fuzz target's property).
    #[test]
    fn parse_never_panics(text in ".{0,200}") {
        for kind in [ferrogate_policy::PolicyKind::Identity, ferrogate_policy::PolicyKind::Resource] {
            let _ = ferrogate_policy::Policy::parse(&text, kind);
        }
    }

    /// Random statements parse or fail cleanly, and evaluating what parses never panics.
    #[test]
    fn random_documents_parse_and_evaluate(picks in proptest::collection::vec(proptest::collection::vec(0..FRAGMENTS.len(), 1..6), 1..4),
                                           version in any::<bool>()) {
        let statements: Vec<String> = picks.iter().map(|s| {
            let mut seen = std::collections::HashSet::new();
            let members: Vec<&str> = s.iter().map(|&i| FRAGMENTS[i]).filter(|f| seen.insert(f.split(':').next().unwrap_or(""))).collect();
            format!("{{{}}}", members.join(","))
        }).collect();
        let v = if version { r#""Version":"2012-10-17","# } else { "" };
        let doc = format!(r#"{{{v}"Statement":[{}]}}"#, statements.join(","));
        for kind in [ferrogate_policy::PolicyKind::Identity, ferrogate_policy::PolicyKind::Resource, ferrogate_policy::PolicyKind::ServiceControl] {
            if let Ok(p) = ferrogate_policy::Policy::parse(&doc, kind) {
                for who in [alice(), deployer(), fargate(), root()] {
                    let ctx = RequestContext::new(who, "s3:GetObject").with_resource("arn:aws:s3:::b/alice/x")
                        .with_values("aws:TagKeys", ["a", "b"]).with("x:flag", "maybe");
                    let named = [ferrogate_policy::NamedPolicy::new("p", &p)];
                    let input = ferrogate_policy::EvaluationInput::new(&ctx).with_identity(&named)
                        .with_resource_policy(named[0], ferrogate_policy::ResourcePolicyKind::Standard);
                    let d = ferrogate_policy::evaluate(&input);
                    prop_assert_eq!(d.access_denied_message(&ctx).is_some(), !d.is_allowed());
                }
            }
        }
    }
}
