//! Condition operators, one documented rule per row.
//!
//! Each row is a `Condition` element and a request's keys. In mode `A` the condition sits in the
//! only `Allow` statement (the row says whether the request is allowed); in mode `D` it sits in a
//! `Deny` statement next to an `Allow *` (the row says whether the deny applies); `A08` is mode `A`
//! in a `"Version": "2008-10-17"` policy. Citations are to the IAM User Guide pages *Condition
//! operators* (CO), *Multivalued context keys* (MV), *Policy variables* (PV), *Condition* (C).
//! The caller is IAM user `alice` tagged `team=blue`; the request time is 2024-01-01T00:00:00Z.

mod common;

use common::{alice, decide_identity, identity, outcome, Expect};
use ferrogate_policy::{PolicyType, RequestContext};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    A,
    D,
    A08,
}
use Mode::{A, A08, D};

type Keys = &'static [(&'static str, &'static [&'static str])];

struct Row {
    why: &'static str,
    mode: Mode,
    cond: &'static str,
    keys: Keys,
    applies: bool,
}

macro_rules! rows {
    ($( ($mode:expr, $why:expr, $cond:expr, $keys:expr, $applies:expr) ),* $(,)?) => {
        &[ $( Row { why: $why, mode: $mode, cond: $cond, keys: $keys, applies: $applies } ),* ]
    };
}

const ARN_BOB: &str = "arn:aws:iam::111122223333:user/bob";

#[rustfmt::skip]
const ROWS: &[Row] = rows![
    // --- String operators (CO: String) ---
    (A, "StringEquals: exact match", r#"{"StringEquals":{"svc:k":"Val"}}"#, &[("svc:k", &["Val"])], true),
    (A, "StringEquals: values are case-sensitive", r#"{"StringEquals":{"svc:k":"Val"}}"#, &[("svc:k", &["val"])], false),
    (A, "StringEquals: several values for one key are ORed (C)", r#"{"StringEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["b"])], true),
    (A, "StringEquals: a missing key makes the condition false (CO Important)", r#"{"StringEquals":{"svc:k":"v"}}"#, &[], false),
    (A, "StringEquals: key names are case-insensitive (PV)", r#"{"StringEquals":{"SVC:K":"v"}}"#, &[("svc:k", &["v"])], true),
    (A, "StringEquals: the empty string is a value like any other", r#"{"StringEquals":{"svc:k":""}}"#, &[("svc:k", &[""])], true),
    (A, "StringNotEquals: a different value matches", r#"{"StringNotEquals":{"svc:k":"Val"}}"#, &[("svc:k", &["x"])], true),
    (A, "StringNotEquals: an equal value does not", r#"{"StringNotEquals":{"svc:k":"Val"}}"#, &[("svc:k", &["Val"])], false),
    (A, "StringNotEquals: a missing key makes a negated operator true (CO Important)", r#"{"StringNotEquals":{"svc:k":"Val"}}"#, &[], true),
    (A, "StringNotEquals: several values are NORed, one equal value fails", r#"{"StringNotEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["b"])], false),
    (A, "StringNotEquals: several values are NORed, none equal", r#"{"StringNotEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["c"])], true),
    (A, "StringEqualsIgnoreCase: matches across case", r#"{"StringEqualsIgnoreCase":{"svc:k":"VaL"}}"#, &[("svc:k", &["vAl"])], true),
    (A, "StringEqualsIgnoreCase: different text", r#"{"StringEqualsIgnoreCase":{"svc:k":"val"}}"#, &[("svc:k", &["va1"])], false),
    (A, "StringNotEqualsIgnoreCase: equal modulo case fails", r#"{"StringNotEqualsIgnoreCase":{"svc:k":"VAL"}}"#, &[("svc:k", &["val"])], false),
    (A, "StringNotEqualsIgnoreCase: missing key is true", r#"{"StringNotEqualsIgnoreCase":{"svc:k":"VAL"}}"#, &[], true),
    (A, "StringLike: * matches any run (CO: String)", r#"{"StringLike":{"svc:k":"home/*"}}"#, &[("svc:k", &["home/alice/x"])], true),
    (A, "StringLike: ? matches exactly one character", r#"{"StringLike":{"svc:k":"a?c"}}"#, &[("svc:k", &["abc"])], true),
    (A, "StringLike: ? does not match zero characters", r#"{"StringLike":{"svc:k":"a?c"}}"#, &[("svc:k", &["ac"])], false),
    (A, "StringLike: matching is case-sensitive", r#"{"StringLike":{"svc:k":"Home/*"}}"#, &[("svc:k", &["home/x"])], false),
    (A, "StringLike: \"\" matches the empty prefix (CO example s3:prefix [\"\",\"home/\"])", r#"{"StringLike":{"svc:k":["","home/"]}}"#, &[("svc:k", &[""])], true),
    (A, "StringLike: without wildcards it is an exact match", r#"{"StringLike":{"svc:k":"abc"}}"#, &[("svc:k", &["abcd"])], false),
    (A, "StringLike: missing key is false", r#"{"StringLike":{"svc:k":"*"}}"#, &[], false),
    (A, "StringNotLike: a matching value fails", r#"{"StringNotLike":{"svc:k":"home/*"}}"#, &[("svc:k", &["home/a"])], false),
    (A, "StringNotLike: a non-matching value passes", r#"{"StringNotLike":{"svc:k":"home/*"}}"#, &[("svc:k", &["tmp/a"])], true),
    (A, "StringNotLike: missing key is true (CO Important names StringNotLike)", r#"{"StringNotLike":{"svc:k":"home/*"}}"#, &[], true),
    // --- ...IfExists (CO: IfExists) ---
    (A, "StringEqualsIfExists: a missing key is true", r#"{"StringEqualsIfExists":{"svc:k":"v"}}"#, &[], true),
    (A, "StringEqualsIfExists: a present equal key is true", r#"{"StringEqualsIfExists":{"svc:k":"v"}}"#, &[("svc:k", &["v"])], true),
    (A, "StringEqualsIfExists: a present different key is false", r#"{"StringEqualsIfExists":{"svc:k":"v"}}"#, &[("svc:k", &["w"])], false),
    (A, "StringLikeIfExists: doc ec2:InstanceType t2.* example allows t2.micro", r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#, &[("ec2:InstanceType", &["t2.micro"])], true),
    (A, "StringLikeIfExists: doc example refuses m4.large", r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#, &[("ec2:InstanceType", &["m4.large"])], false),
    (A, "StringLikeIfExists: doc example allows resources without the key", r#"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#, &[], true),
    (A, "NumericLessThanIfExists: missing key is true", r#"{"NumericLessThanIfExists":{"svc:n":"10"}}"#, &[], true),
    (A, "NumericLessThanIfExists: present and smaller", r#"{"NumericLessThanIfExists":{"svc:n":"10"}}"#, &[("svc:n", &["5"])], true),
    (A, "NumericLessThanIfExists: present and larger", r#"{"NumericLessThanIfExists":{"svc:n":"10"}}"#, &[("svc:n", &["15"])], false),
    (D, "StringNotEqualsIfExists in a Deny: missing key still denies (CO: IfExists)", r#"{"StringNotEqualsIfExists":{"svc:k":"v"}}"#, &[], true),
    (D, "StringNotEqualsIfExists in a Deny: the allowed value escapes the deny", r#"{"StringNotEqualsIfExists":{"svc:k":"v"}}"#, &[("svc:k", &["v"])], false),
    (A, "DateLessThanIfExists: missing key is true", r#"{"DateLessThanIfExists":{"svc:d":"2020-01-01"}}"#, &[], true),
    (A, "BoolIfExists: missing key is true", r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#, &[], true),
    (A, "BoolIfExists: present false is false", r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#, &[("aws:MultiFactorAuthPresent", &["false"])], false),
    (A, "IpAddressIfExists: missing key is true", r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
    (A, "ArnLikeIfExists: missing key is true", r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[], true),
    (A, "BinaryEqualsIfExists: missing key is true", r#"{"BinaryEqualsIfExists":{"svc:b":"QQ=="}}"#, &[], true),
    (A, "NotIpAddressIfExists: present inside the block is false", r#"{"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["10.1.1.1"])], false),
    // --- Numeric (CO: Numeric) ---
    (A, "NumericEquals: equal integers", r#"{"NumericEquals":{"svc:n":"10"}}"#, &[("svc:n", &["10"])], true),
    (A, "NumericEquals: compares numbers, not text (10 == 10.0)", r#"{"NumericEquals":{"svc:n":"10"}}"#, &[("svc:n", &["10.0"])], true),
    (A, "NumericEquals: a JSON number in the policy", r#"{"NumericEquals":{"svc:n":10}}"#, &[("svc:n", &["10"])], true),
    (A, "NumericEquals: different numbers", r#"{"NumericEquals":{"svc:n":"10"}}"#, &[("svc:n", &["11"])], false),
    (A, "NumericEquals: exact, even beyond f64 precision", r#"{"NumericEquals":{"svc:n":"9007199254740993"}}"#, &[("svc:n", &["9007199254740992"])], false),
    (A, "NumericEquals: several values ORed", r#"{"NumericEquals":{"svc:n":[1,2,3]}}"#, &[("svc:n", &["2"])], true),
    (A, "NumericEquals: missing key is false", r#"{"NumericEquals":{"svc:n":"10"}}"#, &[], false),
    (A, "NumericNotEquals: different numbers", r#"{"NumericNotEquals":{"svc:n":"10"}}"#, &[("svc:n", &["11"])], true),
    (A, "NumericNotEquals: equal numbers", r#"{"NumericNotEquals":{"svc:n":"10"}}"#, &[("svc:n", &["10.00"])], false),
    (A, "NumericNotEquals: missing key is true", r#"{"NumericNotEquals":{"svc:n":"10"}}"#, &[], true),
    (A, "NumericLessThan: request value below the policy value", r#"{"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["9.99"])], true),
    (A, "NumericLessThan: equal is not less", r#"{"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["10"])], false),
    (A, "NumericLessThanEquals: doc s3:max-keys <= 10 allows 10", r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["10"])], true),
    (A, "NumericLessThanEquals: doc s3:max-keys <= 10 refuses 11", r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#, &[("s3:max-keys", &["11"])], false),
    (A, "NumericGreaterThan: above", r#"{"NumericGreaterThan":{"svc:n":"10"}}"#, &[("svc:n", &["11"])], true),
    (A, "NumericGreaterThan: equal is not greater", r#"{"NumericGreaterThan":{"svc:n":"10"}}"#, &[("svc:n", &["10"])], false),
    (A, "NumericGreaterThanEquals: equal", r#"{"NumericGreaterThanEquals":{"svc:n":"10"}}"#, &[("svc:n", &["10"])], true),
    (A, "NumericGreaterThanEquals: negative decimals order correctly", r#"{"NumericGreaterThanEquals":{"svc:n":"-1.5"}}"#, &[("svc:n", &["-2"])], false),
    (A, "NumericLessThan: a request value that is not a number never allows", r#"{"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["ten"])], false),
    (D, "NumericLessThan: a request value that is not a number still denies (fail closed)", r#"{"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["ten"])], true),
    (D, "NumericNotEquals deny: missing key denies", r#"{"NumericNotEquals":{"svc:n":"10"}}"#, &[], true),
    // --- Date (CO: Date) ---
    (A, "DateGreaterThan: doc aws:TokenIssueTime-style comparison, later time", r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:01Z"}}"#, &[], true),
    (A, "DateLessThan: current time is not before 2020", r#"{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:01Z"}}"#, &[], false),
    (A, "DateLessThan: epoch seconds in the policy against ISO 8601 in the request", r#"{"DateLessThan":{"aws:CurrentTime":"1704067201"}}"#, &[], true),
    (A, "DateEquals: ISO 8601 in the policy against epoch seconds (aws:EpochTime)", r#"{"DateEquals":{"aws:EpochTime":"2024-01-01T00:00:00Z"}}"#, &[], true),
    (A, "DateEquals: time zone offsets are honoured", r#"{"DateEquals":{"aws:CurrentTime":"2024-01-01T01:00:00+01:00"}}"#, &[], true),
    (A, "DateNotEquals: the same instant fails", r#"{"DateNotEquals":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#, &[], false),
    (A, "DateNotEquals: missing key is true", r#"{"DateNotEquals":{"svc:d":"2024-01-01"}}"#, &[], true),
    (A, "DateLessThanEquals: equal instant", r#"{"DateLessThanEquals":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#, &[], true),
    (A, "DateGreaterThanEquals: an earlier request time fails", r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-01-01T00:00:01Z"}}"#, &[], false),
    (A, "DateGreaterThan: aws:TokenIssueTime absent for long-term credentials (CO: Date)", r#"{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}"#, &[], false),
    (A, "DateLessThan: a date-only W3C profile", r#"{"DateLessThan":{"svc:d":"2024-06-01"}}"#, &[("svc:d", &["2024-05-31T23:59:59Z"])], true),
    (A, "DateEquals: an unreadable request date never allows", r#"{"DateEquals":{"svc:d":"2024-06-01"}}"#, &[("svc:d", &["yesterday"])], false),
    // --- Bool (CO: Boolean) ---
    (A, "Bool: true matches \"true\"", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["true"])], true),
    (A, "Bool: comparison ignores case", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["TRUE"])], true),
    (A, "Bool: false does not match true", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", &["true"])], false),
    (D, "Bool: doc BooleanExample denies requests not over TLS", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", &["false"])], true),
    (D, "Bool: doc BooleanExample lets TLS requests through", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", &["true"])], false),
    (A, "Bool: missing key is false", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[], false),
    (A, "Bool: a JSON boolean in the policy", r#"{"Bool":{"aws:SecureTransport":true}}"#, &[("aws:SecureTransport", &["true"])], true),
    (A, "Bool: a request value that is not a boolean never allows", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["yes"])], false),
    (A, "Bool: policy variables are allowed (CO: Boolean)", r#"{"Bool":{"svc:flag":"${svc:other}"}}"#, &[("svc:flag", &["true"]), ("svc:other", &["true"])], true),
    // --- Binary (CO: Binary) ---
    (A, "BinaryEquals: doc base64 value, equal bytes", r#"{"BinaryEquals":{"svc:b":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#, &[("svc:b", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])], true),
    (A, "BinaryEquals: compares bytes, so padding does not matter", r#"{"BinaryEquals":{"svc:b":"Zm8="}}"#, &[("svc:b", &["Zm8"])], true),
    (A, "BinaryEquals: different bytes", r#"{"BinaryEquals":{"svc:b":"Zm8="}}"#, &[("svc:b", &["Zm9v"])], false),
    (A, "BinaryEquals: missing key is false", r#"{"BinaryEquals":{"svc:b":"Zm8="}}"#, &[], false),
    (A, "BinaryEquals: a request value that is not base64 never allows", r#"{"BinaryEquals":{"svc:b":"Zm8="}}"#, &[("svc:b", &["!!"])], false),
    // --- IP address (CO: IP address) ---
    (A, "IpAddress: doc 203.0.113.0/24 contains 203.0.113.7", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["203.0.113.7"])], true),
    (A, "IpAddress: outside the block", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["198.51.100.1"])], false),
    (A, "IpAddress: an address without prefix is a /32", r#"{"IpAddress":{"aws:SourceIp":"192.0.2.10"}}"#, &[("aws:SourceIp", &["192.0.2.10"])], true),
    (A, "IpAddress: a /32 excludes its neighbour", r#"{"IpAddress":{"aws:SourceIp":"192.0.2.10"}}"#, &[("aws:SourceIp", &["192.0.2.11"])], false),
    (A, "IpAddress: doc IPv6 block 2001:DB8:1234:5678::/64", r#"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#, &[("aws:SourceIp", &["2001:db8:1234:5678::9"])], true),
    (A, "IpAddress: doc mixed IPv4/IPv6 list", r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#, &[("aws:SourceIp", &["2001:db8:1234:5678:1::1"])], true),
    (A, "IpAddress: an IPv4 block never contains an IPv6 address", r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[("aws:SourceIp", &["2001:db8::1"])], false),
    (A, "IpAddress: missing aws:SourceIp (VPC endpoint) is false (CO: IP address)", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[], false),
    (A, "NotIpAddress: outside the block", r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["198.51.100.1"])], true),
    (A, "NotIpAddress: inside the block", r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["203.0.113.1"])], false),
    (A, "NotIpAddress: missing key is true", r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[], true),
    (D, "NotIpAddress deny: an unreadable address denies (fail closed)", r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["unknown"])], true),
    (D, "NotIpAddress deny: inside the allowed block escapes the deny", r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["203.0.113.200"])], false),
    // --- ARN (CO: ARN) ---
    (A, "ArnEquals: identical ARN", r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:topic"])], true),
    (A, "ArnLike: wildcards per segment", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#, &[("aws:SourceArn", &["arn:aws:sns:eu-west-1:123456789012:alerts"])], true),
    (A, "ArnLike: doc example, * does not cross segment boundaries", r#"{"ArnLike":{"svc:arn":"arn:aws:someservice:*:111122223333:finance/*"}}"#, &[("svc:arn", &["arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"])], false),
    (A, "StringLike: the same doc example matches as a plain string", r#"{"StringLike":{"svc:arn":"arn:aws:someservice:*:111122223333:finance/*"}}"#, &[("svc:arn", &["arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"])], true),
    (A, "ArnEquals: behaves like ArnLike, wildcards included (CO: ARN)", r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#, &[("aws:SourceArn", &["arn:aws:sns:eu-west-1:123456789012:alerts"])], true),
    (A, "ArnLike: the resource part may contain colons and slashes", r#"{"ArnLike":{"svc:arn":"arn:aws:logs:*:*:log-group:/ecs/*"}}"#, &[("svc:arn", &["arn:aws:logs:us-east-1:111122223333:log-group:/ecs/app:log-stream:x"])], true),
    (A, "ArnNotEquals: a different ARN", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:user/x"}}"#, &[], true),
    (A, "ArnNotLike: a matching ARN fails", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}"#, &[], false),
    (A, "ArnNotLike: missing key is true", r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[], true),
    (A, "ArnLike: missing key is false", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[], false),
    (A, "ArnLike: a request value that is not an ARN does not match", r#"{"ArnLike":{"svc:arn":"arn:aws:sns:*:*:*"}}"#, &[("svc:arn", &["topic"])], false),
    (A, "ArnLike: matching is case-sensitive", r#"{"ArnLike":{"svc:arn":"arn:aws:sns:*:*:Topic"}}"#, &[("svc:arn", &["arn:aws:sns:us-east-1:1:topic"])], false),
    (A, "ArnEquals: policy variables are allowed (CO: ARN)", r#"{"ArnEquals":{"svc:arn":"${aws:PrincipalArn}"}}"#, &[("svc:arn", &["arn:aws:iam::111122223333:user/alice"])], true),
    (A, "ArnEquals: a substituted ARN does not match another principal", r#"{"ArnEquals":{"svc:arn":"${aws:PrincipalArn}"}}"#, &[("svc:arn", &[ARN_BOB])], false),
    (A, "ArnLike: * matches any value", r#"{"ArnLike":{"svc:arn":"*"}}"#, &[("svc:arn", &["anything"])], true),
    (A, "ArnLike: principal ARN pattern on aws:PrincipalArn", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}"#, &[], true),
    // --- Null (CO: Null) ---
    (A, "Null true: the key is absent", r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[], true),
    (A, "Null true: the key is present", r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])], false),
    (A, "Null false: the key is present", r#"{"Null":{"svc:k":"false"}}"#, &[("svc:k", &["v"])], true),
    (A, "Null false: the key is absent", r#"{"Null":{"svc:k":"false"}}"#, &[], false),
    (A, "Null true: an empty string counts as absent", r#"{"Null":{"svc:k":"true"}}"#, &[("svc:k", &[""])], true),
    (A, "Null true: an empty list counts as absent", r#"{"Null":{"svc:k":"true"}}"#, &[("svc:k", &[])], true),
    (D, "Null true in a Deny: denies requests without the key (seed policy b)", r#"{"Null":{"svc:k":"true"}}"#, &[], true),
    (A, "Null: a JSON boolean in the policy", r#"{"Null":{"svc:k":true}}"#, &[], true),
    // --- Set operators (MV) ---
    (A, "ForAllValues: every request value is in the policy set (doc DynamoDB)", r#"{"ForAllValues:StringEquals":{"dynamodb:Attributes":["PostDateTime","Message","Tags"]}}"#, &[("dynamodb:Attributes", &["PostDateTime", "Message"])], true),
    (A, "ForAllValues: one value outside the set fails (doc UserName)", r#"{"ForAllValues:StringEquals":{"dynamodb:Attributes":["PostDateTime","Message","Tags"]}}"#, &[("dynamodb:Attributes", &["PostDateTime", "UserName"])], false),
    (A, "ForAllValues: a missing key is true", r#"{"ForAllValues:StringEquals":{"svc:k":["a"]}}"#, &[], true),
    (A, "ForAllValues: an empty list is an empty data set, true", r#"{"ForAllValues:StringEquals":{"svc:k":["a"]}}"#, &[("svc:k", &[])], true),
    (A, "ForAllValues: an empty string is an empty data set, true (MV note)", r#"{"ForAllValues:StringEquals":{"svc:k":["a"]}}"#, &[("svc:k", &[""])], true),
    (A, "ForAnyValue: one request value in the set", r#"{"ForAnyValue:StringEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["x", "b"])], true),
    (A, "ForAnyValue: no request value in the set", r#"{"ForAnyValue:StringEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["x", "y"])], false),
    (A, "ForAnyValue: a missing key is false", r#"{"ForAnyValue:StringEquals":{"svc:k":["a"]}}"#, &[], false),
    (A, "ForAnyValue: an empty string is an empty data set, false (MV note)", r#"{"ForAnyValue:StringEquals":{"svc:k":[""]}}"#, &[("svc:k", &[""])], false),
    (D, "ForAnyValue deny: doc PutItem with PostDateTime is denied", r#"{"ForAnyValue:StringLike":{"dynamodb:Attributes":["ID","PostDateTime"]}}"#, &[("dynamodb:Attributes", &["UserName", "Message", "PostDateTime"])], true),
    (D, "ForAnyValue deny: doc PutItem with only UserName is not denied", r#"{"ForAnyValue:StringLike":{"dynamodb:Attributes":["ID","PostDateTime"]}}"#, &[("dynamodb:Attributes", &["UserName"])], false),
    (A, "ForAllValues:StringLike: wildcards per value", r#"{"ForAllValues:StringLike":{"svc:k":["Post*"]}}"#, &[("svc:k", &["PostDateTime", "Postman"])], true),
    (A, "ForAllValues:StringNotEquals: every value outside the set", r#"{"ForAllValues:StringNotEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["x", "y"])], true),
    (A, "ForAllValues:StringNotEquals: one value inside the set fails", r#"{"ForAllValues:StringNotEquals":{"svc:k":["a","b"]}}"#, &[("svc:k", &["x", "a"])], false),
    (A, "ForAnyValue:StringNotEquals: one value outside the set", r#"{"ForAnyValue:StringNotEquals":{"svc:k":["a"]}}"#, &[("svc:k", &["a", "z"])], true),
    (A, "ForAnyValue:StringNotEquals: a missing key is false", r#"{"ForAnyValue:StringNotEquals":{"svc:k":["a"]}}"#, &[], false),
    (A, "ForAnyValue:StringEqualsIgnoreCase", r#"{"ForAnyValue:StringEqualsIgnoreCase":{"aws:TagKeys":["Env"]}}"#, &[("aws:TagKeys", &["owner", "ENV"])], true),
    (A, "ForAllValues:NumericLessThan over numbers", r#"{"ForAllValues:NumericLessThan":{"svc:n":"5"}}"#, &[("svc:n", &["1", "4.5"])], true),
    (A, "ForAnyValue:IpAddress over addresses", r#"{"ForAnyValue:IpAddress":{"svc:ips":"10.0.0.0/8"}}"#, &[("svc:ips", &["192.0.2.1", "10.9.9.9"])], true),
    (A, "ForAllValues:StringEqualsIfExists: a missing key is true", r#"{"ForAllValues:StringEqualsIfExists":{"svc:k":["a"]}}"#, &[], true),
    (A, "No set operator on a multivalued key: undecidable, never allows (MV: require a set operator)", r#"{"StringEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", &["a", "b"])], false),
    (D, "No set operator on a multivalued key: undecidable, denies (fail closed)", r#"{"StringEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", &["a", "b"])], true),
    (A, "No set operator on a key with a single value behaves as single-valued", r#"{"StringEquals":{"aws:TagKeys":"a"}}"#, &[("aws:TagKeys", &["a"])], true),
    // --- Several keys and operators (C: "AND" across keys and operators) ---
    (A, "Two keys under one operator: both match", r#"{"StringEquals":{"svc:a":"1","svc:b":"2"}}"#, &[("svc:a", &["1"]), ("svc:b", &["2"])], true),
    (A, "Two keys under one operator: one fails", r#"{"StringEquals":{"svc:a":"1","svc:b":"2"}}"#, &[("svc:a", &["1"]), ("svc:b", &["3"])], false),
    (A, "Two operators: both must hold", r#"{"StringEquals":{"svc:a":"1"},"Bool":{"aws:SecureTransport":"true"}}"#, &[("svc:a", &["1"]), ("aws:SecureTransport", &["false"])], false),
    (A, "One key under two operators forms a range, inside", r#"{"NumericGreaterThan":{"svc:n":"1"},"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["5"])], true),
    (A, "One key under two operators forms a range, outside", r#"{"NumericGreaterThan":{"svc:n":"1"},"NumericLessThan":{"svc:n":"10"}}"#, &[("svc:n", &["11"])], false),
    (A, "An empty operator block constrains nothing", r#"{"StringEquals":{}}"#, &[], true),
    // --- Policy variables in conditions (PV) ---
    (A, "${aws:username} is the user's friendly name", r#"{"StringEquals":{"svc:owner":"${aws:username}"}}"#, &[("svc:owner", &["alice"])], true),
    (A, "${aws:username} does not match another name", r#"{"StringEquals":{"svc:owner":"${aws:username}"}}"#, &[("svc:owner", &["bob"])], false),
    (A, "Variables combine with StringLike wildcards (doc home directory)", r#"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}"#, &[("s3:prefix", &["home/alice/docs"])], true),
    (A, "Variables combine with StringLike wildcards, other user's directory", r#"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}"#, &[("s3:prefix", &["home/bob/docs"])], false),
    (A, "${aws:PrincipalTag/team} is the principal's tag", r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#, &[("aws:ResourceTag/team", &["blue"])], true),
    (A, "A tag variable against a different resource tag", r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#, &[("aws:ResourceTag/team", &["red"])], false),
    (A, "${key, 'default'} uses the default when the key is absent", r#"{"StringEquals":{"svc:k":"${svc:missing, 'dflt'}"}}"#, &[("svc:k", &["dflt"])], true),
    (A, "An unresolvable variable never allows", r#"{"StringEquals":{"svc:k":"${aws:TokenIssueTime}"}}"#, &[("svc:k", &["x"])], false),
    (D, "An unresolvable variable in a Deny denies (fail closed)", r#"{"StringEquals":{"svc:k":"${aws:TokenIssueTime}"}}"#, &[("svc:k", &["x"])], true),
    (A, "${*} is a literal asterisk in StringLike", r#"{"StringLike":{"svc:k":"a${*}"}}"#, &[("svc:k", &["a*"])], true),
    (A, "${*} does not act as a wildcard", r#"{"StringLike":{"svc:k":"a${*}"}}"#, &[("svc:k", &["ab"])], false),
    (A, "${$} is a literal dollar sign", r#"{"StringEquals":{"svc:k":"${$}{x}"}}"#, &[("svc:k", &["${x}"])], true),
    (A, "StringEqualsIgnoreCase with a variable", r#"{"StringEqualsIgnoreCase":{"svc:owner":"${aws:username}"}}"#, &[("svc:owner", &["ALICE"])], true),
    (A08, "Version 2008: variables are literal text (PV note)", r#"{"StringEquals":{"svc:owner":"${aws:username}"}}"#, &[("svc:owner", &["alice"])], false),
    (A08, "Version 2008: the literal text matches itself", r#"{"StringEquals":{"svc:owner":"${aws:username}"}}"#, &[("svc:owner", &["${aws:username}"])], true),
    // --- Keys derived from the principal (global condition keys) ---
    (A, "aws:PrincipalType is User for IAM users", r#"{"StringEquals":{"aws:PrincipalType":"User"}}"#, &[], true),
    (A, "aws:PrincipalAccount is the caller's account", r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#, &[], true),
    (A, "aws:userid is the user's unique id", r#"{"StringLike":{"aws:userid":"AIDA*"}}"#, &[], true),
    (A, "aws:PrincipalTag/<key> tag keys are case-insensitive", r#"{"StringEquals":{"aws:PrincipalTag/TEAM":"blue"}}"#, &[], true),
    (A, "aws:PrincipalTag values are case-sensitive", r#"{"StringEquals":{"aws:PrincipalTag/team":"Blue"}}"#, &[], false),
];

fn policy_for(row: &Row) -> String {
    let version = if row.mode == A08 {
        "2008-10-17"
    } else {
        "2012-10-17"
    };
    let cond = row.cond;
    match row.mode {
        A | A08 => format!(
            r#"{{"Version":"{version}","Statement":[{{"Effect":"Allow","Action":"svc:Act","Resource":"*","Condition":{cond}}}]}}"#
        ),
        D => format!(
            r#"{{"Version":"{version}","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},
                {{"Effect":"Deny","Action":"svc:Act","Resource":"*","Condition":{cond}}}]}}"#
        ),
    }
}

fn context_for(row: &Row) -> RequestContext {
    let mut ctx = RequestContext::new(alice(), "svc:Act").with_time(1_704_067_200);
    for (k, v) in row.keys {
        ctx = ctx.with_values(k, v.iter().copied());
    }
    ctx
}

#[test]
fn condition_table() {
    assert!(ROWS.len() >= 150, "{} rows", ROWS.len());
    let mut failures = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let policy = identity(&policy_for(row));
        let got = outcome(&decide_identity(&context_for(row), &[policy]));
        let applied = match row.mode {
            A | A08 => got == Expect::Allow,
            D => got == Expect::Explicit(PolicyType::IdentityBased),
        };
        if row.mode == D && !applied {
            assert_eq!(got, Expect::Allow, "row {i}: {}", row.why);
        }
        if applied != row.applies {
            failures.push(format!("row {i} ({:?}): {} -> {got:?}", row.mode, row.why));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
