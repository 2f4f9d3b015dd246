//! Benchmark: one authorization decision for a principal with 10 identity policies of 10
//! statements each, every statement with conditions (target: ≤ 5 µs per decision).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-policy cargo bench -p ferrogate-policy --bench eval`
//!
//! The request is built so that no statement can be skipped cheaply: every statement's action
//! matches, so resources and conditions are evaluated for all 100; the only allowing statement is
//! the last one of the last policy. Each decision is timed on its own with `Instant` (which adds
//! some tens of nanoseconds); the batch mean is printed as well.

use std::hint::black_box;
use std::time::Instant;

use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext,
};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn statement(p: usize, s: usize) -> String {
    if (p, s) == (9, 9) {
        return format!(
            r#"{{"Sid":"Final","Effect":"Allow","Action":["ecs:CreateCluster","ecs:UpdateCluster"],
                "Resource":"arn:aws:ecs:*:111122223333:cluster/*",
                "Condition":{{"StringEquals":{{"ecs:fargate-ephemeral-storage-kms-key":"{KEY}"}},
                  "IpAddress":{{"aws:SourceIp":["198.51.100.0/24","203.0.113.0/24"]}},
                  "Bool":{{"aws:SecureTransport":"true"}}}}}}"#
        );
    }
    match (p * 10 + s) % 5 {
        0 => format!(
            r#"{{"Sid":"RequireKey{p}x{s}","Effect":"Allow","Action":["ecs:CreateCluster","ecs:UpdateCluster"],
                "Resource":"arn:aws:ecs:*:111122223333:cluster/*",
                "Condition":{{"StringEquals":{{"ecs:fargate-ephemeral-storage-kms-key":"arn:aws:kms:us-east-1:111122223333:key/other-{p}-{s}"}}}}}}"#
        ),
        1 => format!(
            r#"{{"Sid":"DenyNoKey{p}x{s}","Effect":"Deny","Action":"ecs:*","Resource":"*",
                "Condition":{{"Null":{{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}}}}"#
        ),
        2 => format!(
            r#"{{"Sid":"TeamClusters{p}x{s}","Effect":"Allow","Action":"ecs:Create*",
                "Resource":"arn:aws:ecs:us-*:*:cluster/team-${{aws:PrincipalTag/team}}-{s}-*",
                "Condition":{{"StringLike":{{"aws:RequestTag/env":["prod-*","stage-{p}*"]}}}}}}"#
        ),
        3 => format!(
            r#"{{"Sid":"Regions{p}x{s}","Effect":"Deny","NotAction":["iam:*","sts:*","organizations:*"],"Resource":"*",
                "Condition":{{"StringNotEquals":{{"aws:RequestedRegion":["us-east-1","eu-west-{s}"]}}}}}}"#
        ),
        _ => format!(
            r#"{{"Sid":"Network{p}x{s}","Effect":"Allow","Action":"ecs:CreateCluster","Resource":"*",
                "Condition":{{"IpAddress":{{"aws:SourceIp":"10.{p}.{s}.0/24"}},
                  "DateLessThan":{{"aws:CurrentTime":"2020-0{}-01T00:00:00Z"}}}}}}"#,
            1 + s % 9
        ),
    }
}

fn build_policies() -> Vec<Policy> {
    (0..10)
        .map(|p| {
            let stmts: Vec<String> = (0..10).map(|s| statement(p, s)).collect();
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                stmts.join(",")
            );
            Policy::parse(&doc, PolicyKind::Identity).expect("benchmark policy parses")
        })
        .collect()
}

fn context() -> RequestContext {
    let user = PrincipalInfo::iam_user(
        "arn:aws:iam::111122223333:user/alice",
        "AIDAALICEEXAMPLE0001",
    )
    .with_tag("team", "blue")
    .with_tag("cost-center", "42");
    RequestContext::new(user, "ecs:CreateCluster")
        .with_resource("arn:aws:ecs:us-east-1:111122223333:cluster/prod")
        .with("ecs:fargate-ephemeral-storage-kms-key", KEY)
        .with_source_ip("203.0.113.5".parse().expect("ip"))
        .with_secure_transport(true)
        .with_region("us-east-1")
        .with_time(1_717_977_600)
        .with_map(
            "aws:RequestTag/",
            "aws:TagKeys",
            [("env", "dev"), ("owner", "alice")],
        )
}

fn report(name: &str, mut samples: Vec<u128>, batch_mean_ns: f64) {
    samples.sort_unstable();
    let pick = |permille: usize| samples[(samples.len() - 1) * permille / 1000] as f64 / 1000.0;
    let mean = samples.iter().sum::<u128>() as f64 / samples.len() as f64 / 1000.0;
    println!(
        "{name}: p50 {:.2} µs  p99 {:.2} µs  mean {:.2} µs  (batch mean {:.2} µs, {} samples)",
        pick(500),
        pick(990),
        mean,
        batch_mean_ns / 1000.0,
        samples.len()
    );
}

fn measure(name: &str, iterations: usize, mut f: impl FnMut() -> bool) {
    for _ in 0..iterations / 10 {
        black_box(f());
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed().as_nanos());
    }
    let t = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    let batch = t.elapsed().as_nanos() as f64 / iterations as f64;
    report(name, samples, batch);
}

fn main() {
    let policies = build_policies();
    let named: Vec<_> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| NamedPolicy::new(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"][i], p))
        .collect();
    let ctx = context();
    let input = EvaluationInput::new(&ctx).with_identity(&named);
    let decision = evaluate(&input);
    assert!(decision.is_allowed(), "{decision:?}");
    println!(
        "10 identity policies x 10 statements, all with conditions; decision: {:?}",
        decision.effect
    );

    measure("evaluate (identity only)", 200_000, || {
        evaluate(black_box(&input)).is_allowed()
    });

    let scp_doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"ecs:*","Resource":"*","Condition":{"Null":{"ecs:fargate-ephemeral-storage-kms-key":"true"}}}]}"#;
    let scp = Policy::parse(scp_doc, PolicyKind::ServiceControl).expect("scp");
    let levels = vec![
        vec![NamedPolicy::new("root", &scp)],
        vec![NamedPolicy::new("ou", &scp)],
        vec![NamedPolicy::new("acct", &scp)],
    ];
    let boundary = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}}"#, PolicyKind::Identity)
        .expect("boundary");
    let full = input
        .with_scps(&levels)
        .with_boundary(NamedPolicy::new("boundary", &boundary));
    assert!(evaluate(&full).is_allowed());
    measure("evaluate (+3 SCP levels, boundary)", 200_000, || {
        evaluate(black_box(&full)).is_allowed()
    });

    measure("build context + evaluate", 100_000, || {
        let c = context();
        evaluate(&EvaluationInput::new(&c).with_identity(&named)).is_allowed()
    });

    let t = Instant::now();
    let n = 200;
    for _ in 0..n {
        black_box(build_policies());
    }
    println!(
        "parse: {:.1} µs per 10-statement policy",
        t.elapsed().as_nanos() as f64 / (n * 10) as f64 / 1000.0
    );
}
