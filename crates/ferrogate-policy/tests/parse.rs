//! Malformed documents and the `MalformedPolicyDocument` message IAM gives for each.
//!
//! Messages are IAM's own where known (see `src/error.rs`); where IAM answers with its generic
//! "Syntax errors in policy.", `detail()` is checked to name the actual problem.

mod common;

use ferrogate_policy::{Policy, PolicyError, PolicyKind, Version};
use PolicyKind::{Identity, Resource, RoleTrust, ServiceControl};

const SYNTAX: &str = "Syntax errors in policy.";

/// Wraps one statement in a 2012-10-17 document.
fn doc(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

/// (why, kind, document, message, text the detail must contain)
type Row = (&'static str, PolicyKind, String, &'static str, &'static str);

fn rows() -> Vec<Row> {
    let ok_stmt = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#;
    let with = |extra: &str| doc(&format!("{{{ok_stmt},{extra}}}"));
    let cond = |c: &str| with(&format!(r#""Condition":{c}"#));
    vec![
        ("not JSON", Identity, "{".into(), SYNTAX, "invalid JSON"),
        ("not JSON, trust policy wording", RoleTrust, "nope".into(), "This policy contains invalid Json", "invalid JSON"),
        ("duplicate member names are ambiguous", Identity, r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#.into(), SYNTAX, "duplicate member"),
        ("a top-level array", Identity, "[]".into(), SYNTAX, "not a JSON object"),
        ("an unknown top-level member", Identity, r#"{"Version":"2012-10-17","Statment":[]}"#.into(), SYNTAX, "unknown member `Statment`"),
        ("an unknown Version", Identity, r#"{"Version":"2013-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), SYNTAX, "unsupported Version"),
        ("a numeric Version", Identity, r#"{"Version":2012,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), SYNTAX, "unsupported Version"),
        ("no Statement", Identity, r#"{"Version":"2012-10-17"}"#.into(), SYNTAX, "no `Statement`"),
        ("an empty Statement list", Identity, r#"{"Version":"2012-10-17","Statement":[]}"#.into(), SYNTAX, "empty"),
        ("a Statement that is a string", Identity, r#"{"Statement":"Allow"}"#.into(), SYNTAX, "`Statement` is a string"),
        ("a statement that is not an object", Identity, doc("1"), SYNTAX, "not an object"),
        ("an unknown statement member", Identity, with(r#""Bank":"x""#), SYNTAX, "unknown member `Bank`"),
        ("element names are case-sensitive", Identity, doc(r#"{"effect":"Allow","Action":"*","Resource":"*"}"#), SYNTAX, "unknown member `effect`"),
        ("an Id that is not a string", Identity, r#"{"Id":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), SYNTAX, "`Id`"),
        ("a missing Effect", Identity, doc(r#"{"Action":"*","Resource":"*"}"#), "Missing required field Effect", "Effect"),
        ("Effect in the wrong case", Identity, doc(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), "The policy failed legacy parsing", "Allow or Deny"),
        ("an unknown Effect", Identity, doc(r#"{"Effect":"Permit","Action":"*","Resource":"*"}"#), SYNTAX, "Effect"),
        ("Principal in an identity policy", Identity, with(r#""Principal":"*""#), "Policy document should not specify a principal.", "principal"),
        ("NotPrincipal in an identity policy", Identity, with(r#""NotPrincipal":{"AWS":"111122223333"}"#), "Policy document should not specify a principal.", "principal"),
        ("Principal in an SCP", ServiceControl, with(r#""Principal":"*""#), "Policy document should not specify a principal.", "principal"),
        ("no Principal in a resource policy", Resource, doc(r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#), "Missing required field Principal", "Principal"),
        ("no Principal in a trust policy", RoleTrust, doc(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#), "Missing required field Principal", "Principal"),
        ("Resource in a trust policy", RoleTrust, doc(r#"{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}"#), "Has prohibited field Resource", "Resource"),
        ("NotResource in a trust policy", RoleTrust, doc(r#"{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","NotResource":"*"}"#), "Has prohibited field NotResource", "NotResource"),
        ("both Principal and NotPrincipal", Resource, doc(r#"{"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"}"#), SYNTAX, "both"),
        ("a wildcard inside a principal ARN", Resource, doc(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*","Resource":"*"}"#), "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/*\"", "Invalid principal"),
        ("a principal that is not an account or ARN", Resource, doc(r#"{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*","Resource":"*"}"#), "Invalid principal in policy: \"AWS\":\"bob\"", "bob"),
        ("an unknown principal type", Resource, doc(r#"{"Effect":"Allow","Principal":{"Group":"admins"},"Action":"*","Resource":"*"}"#), "Invalid principal in policy: \"Group\":\"admins\"", "Group"),
        ("a principal that is a bare ARN string", Resource, doc(r#"{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"*","Resource":"*"}"#), SYNTAX, "`Principal`"),
        ("an empty principal object", Resource, doc(r#"{"Effect":"Allow","Principal":{},"Action":"*","Resource":"*"}"#), SYNTAX, "`Principal`"),
        ("no Action", Identity, doc(r#"{"Effect":"Allow","Resource":"*"}"#), "Policy statement must contain actions.", "actions"),
        ("an empty Action list", Identity, doc(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "Policy statement must contain actions.", "actions"),
        ("both Action and NotAction", Identity, doc(r#"{"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"}"#), SYNTAX, "both"),
        ("an action without a vendor (as the DynamoDB doc example writes it)", Identity, doc(r#"{"Effect":"Allow","Action":"GetItem","Resource":"*"}"#), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", "GetItem"),
        ("an action with two colons", Identity, doc(r#"{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}"#), "Actions/Condition can contain only one colon.", "s3:Get:Object"),
        ("an action whose vendor has invalid characters", Identity, doc(r#"{"Effect":"Allow","Action":"s3!:GetObject","Resource":"*"}"#), "Vendor s3! is not valid", "s3!"),
        ("an Action that is a number", Identity, doc(r#"{"Effect":"Allow","Action":5,"Resource":"*"}"#), SYNTAX, "`Action`"),
        ("an Action list holding a non-string", Identity, doc(r#"{"Effect":"Allow","Action":["s3:*",null],"Resource":"*"}"#), SYNTAX, "`Action`"),
        ("no Resource", Identity, doc(r#"{"Effect":"Allow","Action":"*"}"#), "Policy statement must contain resources.", "resources"),
        ("an empty Resource list", Identity, doc(r#"{"Effect":"Allow","Action":"*","Resource":[]}"#), "Policy statement must contain resources.", "resources"),
        ("both Resource and NotResource", Identity, doc(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#), SYNTAX, "both"),
        ("a Resource that is not an ARN", Identity, doc(r#"{"Effect":"Allow","Action":"*","Resource":"bucket"}"#), "Resource bucket must be in ARN format or \"*\".", "bucket"),
        ("a Resource ARN with too few segments", Identity, doc(r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3"}"#), "Resource arn:aws:s3 must be in ARN format or \"*\".", "arn:aws:s3"),
        ("duplicate Sids", Identity, r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}"#.into(), "Statement IDs (SID) in a single policy must be unique.", "Duplicate Sid: A"),
        ("a Sid with spaces in an identity policy", Identity, doc(r#"{"Sid":"Allow reads","Effect":"Allow","Action":"*","Resource":"*"}"#), "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*", "alpha-numeric"),
        ("a Sid that is not a string", Identity, doc(r#"{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}"#), SYNTAX, "`Sid`"),
        ("an unknown condition operator", Identity, cond(r#"{"StringEqual":{"s3:prefix":"a"}}"#), SYNTAX, "Policy has invalid condition operator: StringEqual"),
        ("operators are case-sensitive", Identity, cond(r#"{"stringequals":{"s3:prefix":"a"}}"#), SYNTAX, "invalid condition operator: stringequals"),
        ("Null takes no IfExists", Identity, cond(r#"{"NullIfExists":{"s3:prefix":"true"}}"#), SYNTAX, "invalid condition operator: NullIfExists"),
        ("Null takes no set qualifier", Identity, cond(r#"{"ForAnyValue:Null":{"s3:prefix":"true"}}"#), SYNTAX, "invalid condition operator"),
        ("a key with no operator (cfn-lint #3751)", Identity, cond(r#"{"servicecatalog:accountLevel":"self"}"#), SYNTAX, "invalid condition operator"),
        ("a Condition that is a list", Identity, cond(r#"[{"StringEquals":{"s3:prefix":"a"}}]"#), SYNTAX, "`Condition`"),
        ("an operator block that is a string", Identity, cond(r#"{"StringEquals":"a"}"#), SYNTAX, "block"),
        ("a condition value that is an object", Identity, cond(r#"{"StringEquals":{"s3:prefix":{"a":1}}}"#), SYNTAX, "object"),
        ("a condition value that is null", Identity, cond(r#"{"StringEquals":{"s3:prefix":null}}"#), SYNTAX, "null"),
        ("an empty list of condition values", Identity, cond(r#"{"StringEquals":{"s3:prefix":[]}}"#), SYNTAX, "empty value list"),
        ("a condition key without a vendor", Identity, cond(r#"{"StringEquals":{"prefix":"a"}}"#), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", "prefix"),
        ("a number that is not a number", Identity, cond(r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#), SYNTAX, "Invalid value \"ten\""),
        ("variables are not allowed in Numeric values", Identity, cond(r#"{"NumericEquals":{"s3:max-keys":"${aws:username}"}}"#), SYNTAX, "NumericEquals"),
        ("an invalid date", Identity, cond(r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-13-01T00:00:00Z"}}"#), "The policy failed legacy parsing", "invalid date"),
        ("an invalid CIDR", Identity, cond(r#"{"IpAddress":{"aws:SourceIp":"300.1.1.1/24"}}"#), SYNTAX, "300.1.1.1/24"),
        ("a Bool that is not a boolean", Identity, cond(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#), SYNTAX, "yes"),
        ("BinaryEquals that is not base64", Identity, cond(r#"{"BinaryEquals":{"s3:x":"!!"}}"#), SYNTAX, "!!"),
        ("an ArnLike value that is not an ARN", Identity, cond(r#"{"ArnLike":{"aws:SourceArn":"topic"}}"#), SYNTAX, "topic"),
        ("a Null value that is not a boolean", Identity, cond(r#"{"Null":{"s3:prefix":"maybe"}}"#), SYNTAX, "maybe"),
    ]
}

#[test]
fn malformed_documents() {
    let rows = rows();
    assert!(rows.len() >= 60, "{}", rows.len());
    let mut failures = Vec::new();
    for (why, kind, json, message, detail) in &rows {
        match Policy::parse(json, *kind) {
            Ok(_) => failures.push(format!("{why}: accepted")),
            Err(e) if e.to_string() != *message || !e.detail().contains(detail) => {
                failures.push(format!("{why}: got {e:?} / {} / {}", e, e.detail()));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepted_documents() {
    let ok =
        |json: &str, kind| Policy::parse(json, kind).unwrap_or_else(|e| panic!("{e:?}: {json}"));
    // An absent Version is 2008-10-17 (IAM User Guide, Version element).
    let p = ok(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        Identity,
    );
    assert_eq!(p.version(), Version::V2008_10_17);
    let p = ok(
        r#"{"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        Identity,
    );
    assert_eq!((p.version(), p.id()), (Version::V2008_10_17, Some("x")));
    // Any Sid text is fine outside IAM identity and trust policies (KMS key policy Sids).
    ok(
        &doc(
            r#"{"Sid":"Allow generate data key access for Fargate tasks.","Effect":"Allow","Principal":{"Service":"fargate.amazonaws.com"},"Action":"kms:*","Resource":"*"}"#,
        ),
        Resource,
    );
    // Numbers and booleans as condition values; all qualifiers.
    ok(
        &doc(
            r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
            "NumericLessThanEquals":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true},
            "ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*"]},"ForAnyValue:ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:*:*:*"},
            "DateLessThan":{"aws:CurrentTime":1704067200},"Null":{"aws:TokenIssueTime":false}}}"#,
        ),
        Identity,
    );
    // Vendor `*` and wildcards in action names; SCPs accept conditions on Allow and NotResource.
    ok(
        &doc(r#"{"Effect":"Allow","Action":["*:Get*","s3:*Object?"],"Resource":"*"}"#),
        Identity,
    );
    ok(
        &doc(
            r#"{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::x","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}"#,
        ),
        ServiceControl,
    );
    // Principal forms of the IAM User Guide (Principal element).
    let p = ok(
        &doc(
            r#"{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::555555555555:root",
            "arn:aws:iam::123456789012:role/path/role-name","arn:aws:sts::123456789012:assumed-role/role-name/session",
            "arn:aws:iam::123456789012:user/user-name","arn:aws:sts::123456789012:federated-user/user-name",
            "AIDAJQABLZS4A3QDU576Q"],"Service":["ecs.amazonaws.com","elasticloadbalancing.amazonaws.com"],
            "Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
            "Action":"*","Resource":"*"}"#,
        ),
        Resource,
    );
    assert_eq!(p.aws_principals().count(), 7);
    // The trust policy shape.
    ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
        RoleTrust,
    );
}

#[test]
fn errors_are_typed_for_callers() {
    let e = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
        Identity,
    )
    .unwrap_err();
    assert_eq!(e, PolicyError::MissingAction);
    let e = Policy::parse(
        &doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"x"}"#),
        Identity,
    )
    .unwrap_err();
    assert_eq!(
        e,
        PolicyError::InvalidResource {
            resource: "x".into()
        }
    );
}
