//! Amazon EC2's networking API: VPCs, subnets, security groups and their rules, tags,
//! availability zones (EC2 query protocol, API version `2016-11-15`, signing name `ec2`).
//!
//! Every operation runs on the operation contract (`ferrogate-api`): IAM authorizes its
//! `ec2:` action on its resources (`arn:aws:ec2:<region>:<account>:vpc/vpc-…`, with
//! `aws:ResourceTag/*`, `ec2:ResourceTag/*` and, for tags given at creation,
//! `aws:RequestTag/*` and `ec2:CreateAction`), CloudTrail records it. Every account has a
//! default VPC in every region ([`defaults`]), made before its first EC2 request there.
#![deny(missing_docs)]

pub mod cidr;
pub mod defaults;
pub mod eni;
pub mod error;
mod ids;
pub mod model;
mod ops;
pub mod params;
pub mod rule;
mod views;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ferrogate_api::{Call, Executor};

pub use error::Ec2Error;
pub use ops::attrs::{DescribeVpcAttributeInput, DescribeVpcPartsInput, ModifyVpcAttributeInput};
pub use ops::group::{
    CreateSecurityGroupInput, DeleteSecurityGroupInput, DescribeSecurityGroupsInput,
};
pub use ops::info::{DescribeAccountAttributesInput, DescribeAvailabilityZonesInput};
pub use ops::interfaces::{private_dns_name, DescribeNetworkInterfacesInput};
pub use ops::rules::{AuthorizeInput, DescribeSecurityGroupRulesInput, RevokeInput};
pub use ops::subnet::{CreateSubnetInput, DeleteSubnetInput, DescribeSubnetsInput};
pub use ops::tags::{CreateTagsInput, DeleteTagsInput, DescribeTagsInput};
pub use ops::vpc::{CreateVpcInput, DeleteVpcInput, DescribeVpcsInput};

/// The EC2 service.
#[derive(Debug, Default)]
pub struct Ec2 {
    /// Accounts and regions known to have their defaults (saves a read per request).
    ready: Mutex<HashSet<(String, String)>>,
    /// Woken after a committed change to security groups or their rules: the task
    /// launcher then pushes the new rules to running tasks.
    groups_changed: tokio::sync::Notify,
}

impl Ec2 {
    /// The service.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves after the next committed change to a security group's rules (or its
    /// deletion), or at once if one happened since the last wait.
    pub async fn groups_changed(&self) {
        self.groups_changed.notified().await;
    }

    pub(crate) fn note_groups_changed(&self) {
        // `notify_one` stores a permit when no one waits: a change is never missed.
        self.groups_changed.notify_one();
    }

    /// Makes the caller's default VPC in the request's region if it was never made (the
    /// `before` step of every EC2 request). The default VPC is not the caller's doing: it is
    /// made without a record of its own, as AWS makes it with the account.
    pub async fn before(this: &Arc<Self>, exec: &Executor, call: &Call) -> Result<(), Ec2Error> {
        let scope = (
            call.principal.account.as_str().to_owned(),
            call.region.clone(),
        );
        if this.ready.lock().is_ok_and(|r| r.contains(&scope)) {
            return Ok(());
        }
        let (account, region) = (&scope.0, &scope.1);
        let made = exec
            .store()
            .read(|tx| defaults::made(tx, account, region))?;
        if !made {
            let plan = defaults::plan(account, region, exec.now())?;
            let created = exec
                .store()
                .write(move |tx| defaults::apply(tx, &plan))
                .await?;
            if created {
                tracing::info!(account = %account, region = %region, "default VPC made");
            }
        }
        if let Ok(mut r) = this.ready.lock() {
            r.insert(scope);
        }
        Ok(())
    }
}

ferrogate_api::service! {
    Ec2 { error: Ec2Error, id: Ec2, tag_prefixes: ["ec2"], changes_authorization: false, record_resources: false, denied: Ec2Error::UnauthorizedOperation }
}

ferrogate_api::operations! {
    service: Ec2,
    protocol: ec2,
    parameters: serialized,
    before: Ec2::before,
    ops: {
        CreateVpc(CreateVpcInput) write,
        DescribeVpcs(DescribeVpcsInput) read,
        DeleteVpc(DeleteVpcInput) write,
        DescribeVpcAttribute(DescribeVpcAttributeInput) read,
        ModifyVpcAttribute(ModifyVpcAttributeInput) write,
        DescribeRouteTables(DescribeVpcPartsInput<true>) read,
        DescribeNetworkAcls(DescribeVpcPartsInput<false>) read,
        CreateSubnet(CreateSubnetInput) write,
        DescribeSubnets(DescribeSubnetsInput) read,
        DeleteSubnet(DeleteSubnetInput) write,
        CreateSecurityGroup(CreateSecurityGroupInput) write,
        DescribeSecurityGroups(DescribeSecurityGroupsInput) read,
        DeleteSecurityGroup(DeleteSecurityGroupInput) write,
        AuthorizeSecurityGroupIngress(AuthorizeInput<false>) write,
        AuthorizeSecurityGroupEgress(AuthorizeInput<true>) write,
        RevokeSecurityGroupIngress(RevokeInput<false>) write,
        RevokeSecurityGroupEgress(RevokeInput<true>) write,
        DescribeSecurityGroupRules(DescribeSecurityGroupRulesInput) read,
        DescribeNetworkInterfaces(DescribeNetworkInterfacesInput) read,
        CreateTags(CreateTagsInput) write,
        DeleteTags(DeleteTagsInput) write,
        DescribeTags(DescribeTagsInput) read,
        DescribeAvailabilityZones(DescribeAvailabilityZonesInput) read,
        DescribeAccountAttributes(DescribeAccountAttributesInput) read,
    }
}
