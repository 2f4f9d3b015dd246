//! The IAM policy parser and evaluator (`ferrogate_policy`): any text as a policy of each
//! kind, and every policy that parses evaluated for a request that exercises conditions,
//! variables and wildcards.
#![no_main]

use ferrogate_policy::{
    evaluate, EvaluationInput, NamedPolicy, Policy, PolicyKind, PrincipalInfo, RequestContext,
    ResourcePolicyKind,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let user = PrincipalInfo::iam_user("arn:aws:iam::111122223333:user/ops", "AIDAEXAMPLE")
        .with_tag("team", "blue");
    let ctx = RequestContext::new(user, "kms:Decrypt")
        .with_resource(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .with("kms:EncryptionContext:aws:ecs:clusterName", "prod")
        .with_values("aws:TagKeys", ["team", "env"])
        .with(
            "ecs:fargate-ephemeral-storage-kms-key",
            text.chars().take(64).collect::<String>(),
        )
        .with_time(1_700_000_000)
        .with_source_ip("192.0.2.10".parse().expect("ip"))
        .with_region("us-east-1");
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::RoleTrust,
        PolicyKind::ServiceControl,
    ] {
        let Ok(policy) = Policy::parse(&text, kind) else {
            continue;
        };
        let named = [NamedPolicy::new("fuzz", &policy)];
        let input = match kind {
            PolicyKind::Identity => EvaluationInput::new(&ctx).with_identity(&named),
            PolicyKind::Resource => EvaluationInput::new(&ctx)
                .with_resource_policy(named[0], ResourcePolicyKind::KeyPolicy),
            PolicyKind::RoleTrust => EvaluationInput::new(&ctx)
                .with_resource_policy(named[0], ResourcePolicyKind::RoleTrust),
            PolicyKind::ServiceControl => {
                let levels = vec![named.to_vec()];
                let d = evaluate(&EvaluationInput::new(&ctx).with_scps(&levels));
                let _ = d.access_denied_message(&ctx);
                continue;
            }
        };
        let d = evaluate(&input);
        let _ = d.access_denied_message(&ctx);
    }
});
