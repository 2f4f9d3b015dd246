//! Task networking (`awsvpc`) as ECS sees it: the `awsvpcConfiguration` a task or service
//! names, checked against the account's VPCs (EC2's tables, read through
//! [`ferrogate_ec2::eni`]); the elastic network interface a task gets when it launches and
//! loses when it stops; and the attachment DescribeTasks shows for it.
//!
//! On Fargate, RunTask checks the subnets and security groups at once (an unknown one is an
//! `InvalidParameterException` wrapping EC2's error), but the interface is made only when
//! the task is provisioned: a subnet without a free address stops the task with
//! `TaskFailedToStart` after RunTask succeeded.

use std::net::Ipv4Addr;

use ferrogate_ec2::eni::{self, Placement};
use ferrogate_ec2::Ec2Error;
use ferrogate_store::{ReadTx, WriteTx};
use ferrogate_types::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::Task;
use crate::EcsError;

/// `awsvpcConfiguration`, as a task or service stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpc {
    /// `subnets` (1 to 16).
    #[serde(default)]
    pub subnets: Vec<String>,
    /// `securityGroups` (0 to 5; none: the VPC's default group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `assignPublicIp`: `ENABLED` or `DISABLED` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

impl AwsVpc {
    /// Reads a stored configuration (a task's or service's `network`).
    pub fn of(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    /// The checks that need no resource: counts, duplicates and `assignPublicIp`.
    pub fn validated(self) -> Result<Self, EcsError> {
        if self.subnets.is_empty() {
            return Err(EcsError::invalid("subnets can not be empty."));
        }
        // The limits are ECS's (AwsVpcConfiguration: up to 16 subnets and 5 security
        // groups); the wording is ours (not found in AWS's material).
        if self.subnets.len() > eni::MAX_SUBNETS {
            return Err(EcsError::invalid(format!(
                "subnets can have at most {} items.",
                eni::MAX_SUBNETS
            )));
        }
        if self.security_groups.len() > eni::MAX_GROUPS {
            return Err(EcsError::invalid(format!(
                "securityGroups can have at most {} items.",
                eni::MAX_GROUPS
            )));
        }
        for (what, list) in [
            ("subnets", &self.subnets),
            ("securityGroups", &self.security_groups),
        ] {
            if let Some((_, dup)) = list
                .iter()
                .enumerate()
                .find(|(i, s)| list[..*i].contains(s))
            {
                return Err(EcsError::invalid(format!(
                    "{what} must not contain duplicates: {dup}."
                )));
            }
        }
        match self.assign_public_ip.as_deref() {
            None | Some("ENABLED" | "DISABLED") => Ok(self),
            Some(other) => Err(EcsError::invalid(format!(
                "Invalid value '{other}' for assignPublicIp: must be ENABLED or DISABLED."
            ))),
        }
    }

    /// Whether the task's traffic may leave the VPC (`assignPublicIp=ENABLED`).
    pub fn public(&self) -> bool {
        self.assign_public_ip.as_deref() == Some("ENABLED")
    }
}

/// EC2's answer about a placement in ECS's words: an unknown subnet or group is ECS's
/// `InvalidParameterException` wrapping EC2's error, as ECS reports it ("Error retrieving
/// subnet information for [subnet-…]: The subnet ID 'subnet-…' does not exist (ErrorCode:
/// InvalidSubnetID.NotFound)"; the security-group form is inferred from it).
pub fn placement_error(e: Ec2Error, cfg: &AwsVpc) -> EcsError {
    let retrieving = |what: &str, ids: &[String], code: &str, e: &Ec2Error| {
        EcsError::invalid(format!(
            "Error retrieving {what} information for [{}]: {e} (ErrorCode: {code})",
            ids.join(", ")
        ))
    };
    match e {
        Ec2Error::Internal(s) => EcsError::Internal(s),
        Ec2Error::RandomnessUnavailable => EcsError::RandomnessUnavailable,
        e @ Ec2Error::InvalidSubnetIdNotFound(_) => {
            retrieving("subnet", &cfg.subnets, "InvalidSubnetID.NotFound", &e)
        }
        e @ Ec2Error::InvalidGroupNotFound(_) => retrieving(
            "security group",
            &cfg.security_groups,
            "InvalidGroup.NotFound",
            &e,
        ),
        // EC2's RunInstances wording for a group of another VPC than the subnet.
        Ec2Error::InvalidGroupDifferentNetworks => EcsError::invalid(format!(
            "Security group(s) [{}] and subnet(s) [{}] belong to different networks.",
            cfg.security_groups.join(", "),
            cfg.subnets.join(", ")
        )),
        other => EcsError::invalid(other.to_string()),
    }
}

/// Checks `network` (a stored `awsvpcConfiguration`) against the caller's VPCs, making the
/// account's default VPC first if it was never made (as AWS has it from the start).
pub(crate) fn check(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    now: Timestamp,
    network: &Value,
) -> Result<Placement, EcsError> {
    let cfg = AwsVpc::of(network);
    eni::ensure_defaults(tx, account, region, now).map_err(|e| placement_error(e, &cfg))?;
    eni::place(&*tx, account, region, &cfg.subnets, &cfg.security_groups)
        .map_err(|e| placement_error(e, &cfg))
}

/// A task's elastic network interface, as made at its launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEni {
    /// `eni-…`.
    pub interface_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its subnet's availability zone.
    #[serde(default)]
    pub az: String,
    /// Its subnet's block.
    pub subnet_cidr: String,
    /// Its subnet's router.
    pub gateway: Ipv4Addr,
    /// Its VPC.
    pub vpc_id: String,
    /// The VPC's blocks.
    pub vpc_cidrs: Vec<String>,
    /// The task's private address.
    pub address: Ipv4Addr,
    /// Its MAC address.
    pub mac: String,
    /// Its security groups.
    pub groups: Vec<String>,
    /// `assignPublicIp=ENABLED`: traffic may leave the VPC (masqueraded by the host).
    pub public: bool,
    /// Whether the interface was deleted (the task stopped).
    #[serde(default)]
    pub deleted: bool,
}

impl TaskEni {
    /// `ip-10-0-0-4.ec2.internal` in us-east-1, `ip-10-0-0-4.<region>.compute.internal`
    /// elsewhere.
    pub fn private_dns_name(&self, region: &str) -> String {
        ferrogate_ec2::private_dns_name(region, self.address)
    }
}

/// The attachment id of a task's interface (a UUID made from the task id: the attachment
/// exists, PRECREATED, from RunTask on).
pub fn attachment_id(task_id: &str) -> String {
    let part = |r: std::ops::Range<usize>| task_id.get(r).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// The state of a task's ENI attachment (ECS `Attachment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentStatus {
    /// Planned, no interface yet (PROVISIONING).
    Precreated,
    /// The task's interface is up (PENDING to STOPPING).
    Attached,
    /// The task is being torn down (DEPROVISIONING).
    Detaching,
    /// The interface is gone (STOPPED).
    Detached,
}

impl AttachmentStatus {
    /// The status for a task's `lastStatus` and whether it got an interface.
    pub fn of(last_status: &str, has_interface: bool) -> Self {
        match (last_status, has_interface) {
            ("STOPPED", _) => AttachmentStatus::Detached,
            ("DEPROVISIONING", true) => AttachmentStatus::Detaching,
            ("DEPROVISIONING", false) => AttachmentStatus::Detached,
            (_, false) | ("PROVISIONING", true) => AttachmentStatus::Precreated,
            (_, true) => AttachmentStatus::Attached,
        }
    }

    /// As ECS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentStatus::Precreated => "PRECREATED",
            AttachmentStatus::Attached => "ATTACHED",
            AttachmentStatus::Detaching => "DETACHING",
            AttachmentStatus::Detached => "DETACHED",
        }
    }
}

/// Makes `t`'s interface (in the first of its subnets with a free address) in the launcher's
/// transaction. `Err` is the task's `stoppedReason`: the subnets or groups are gone since
/// RunTask, or no subnet has a free address.
pub fn create_interface(
    tx: &mut dyn WriteTx,
    t: &Task,
    now: Timestamp,
) -> Result<TaskEni, Result<String, EcsError>> {
    let cfg = AwsVpc::of(&t.network);
    let placement = eni::place(
        &*tx,
        &t.account,
        &t.region,
        &cfg.subnets,
        &cfg.security_groups,
    )
    .map_err(|e| reason(placement_error(e, &cfg)))?;
    let description = format!(
        "arn:aws:ecs:{}:{}:attachment/{}",
        t.region,
        t.account,
        attachment_id(&t.id)
    );
    let purpose = eni::Purpose {
        description: &description,
        // The requester AWS shows on a Fargate task's interface.
        requester_id: "578734482556",
    };
    let made = eni::create(tx, &placement, &purpose, now).map_err(|e| match e {
        e @ Ec2Error::InsufficientFreeAddressesInSubnet(_) => Ok(format!(
            "ResourceInitializationError: unable to create the task's network interface: InsufficientFreeAddressesInSubnet: {e}"
        )),
        other => reason(placement_error(other, &cfg)),
    })?;
    Ok(TaskEni {
        interface_id: made.interface.id,
        subnet_id: made.interface.subnet_id,
        az: made.interface.az,
        subnet_cidr: made.subnet_cidr.to_string(),
        gateway: made.gateway,
        vpc_id: made.interface.vpc_id,
        vpc_cidrs: made.vpc_cidrs.iter().map(ToString::to_string).collect(),
        address: made.interface.address,
        mac: made.interface.mac,
        groups: made.interface.groups,
        public: cfg.public(),
        deleted: false,
    })
}

/// A placement error as a `stoppedReason` (internal errors stay errors).
fn reason(e: EcsError) -> Result<String, EcsError> {
    match e {
        EcsError::Internal(_) | EcsError::RandomnessUnavailable => Err(e),
        other => Ok(format!("ResourceInitializationError: {other}")),
    }
}

/// Marks `t`'s interface in use (its task is running).
pub fn interface_in_use(tx: &mut dyn WriteTx, t: &Task) -> Result<(), EcsError> {
    if let Some(e) = t.eni.as_ref().filter(|e| !e.deleted) {
        eni::set_in_use(tx, &t.account, &t.region, &e.interface_id)
            .map_err(|e| placement_error(e, &AwsVpc::default()))?;
    }
    Ok(())
}

/// Deletes `t`'s interface and frees its address (the task stopped); marks it deleted.
pub fn delete_interface(tx: &mut dyn WriteTx, t: &mut Task) -> Result<(), EcsError> {
    if let Some(e) = t.eni.as_mut().filter(|e| !e.deleted) {
        eni::delete(tx, &t.account, &t.region, &e.interface_id)
            .map_err(|e| placement_error(e, &AwsVpc::default()))?;
        e.deleted = true;
    }
    Ok(())
}

/// The security groups `ids` of an account and region, as stored (those that still exist).
pub fn groups(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    ids: &[String],
) -> Result<Vec<ferrogate_ec2::model::SecurityGroup>, EcsError> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(g) = eni::group(tx, account, region, id)
            .map_err(|e| placement_error(e, &AwsVpc::default()))?
        {
            out.push(g);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_status_follows_the_task() {
        use AttachmentStatus::*;
        let table = [
            ("PROVISIONING", false, Precreated),
            ("PROVISIONING", true, Precreated),
            ("PENDING", false, Precreated),
            ("PENDING", true, Attached),
            ("RUNNING", true, Attached),
            ("STOPPING", true, Attached),
            ("DEPROVISIONING", true, Detaching),
            ("DEPROVISIONING", false, Detached),
            ("STOPPED", true, Detached),
            ("STOPPED", false, Detached),
        ];
        for (last, has, want) in table {
            assert_eq!(AttachmentStatus::of(last, has), want, "{last} {has}");
        }
        assert_eq!(Attached.as_str(), "ATTACHED");
    }

    #[test]
    fn configurations_are_checked_before_any_lookup() {
        let ok = |v: Value| serde_json::from_value::<AwsVpc>(v).unwrap().validated();
        assert!(ok(serde_json::json!({"subnets": ["subnet-1"]})).is_ok());
        let msg = |r: Result<AwsVpc, EcsError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(ok(serde_json::json!({"subnets": []}))),
            "subnets can not be empty."
        );
        assert!(msg(ok(
            serde_json::json!({"subnets": ["subnet-1"], "assignPublicIp": "YES"})
        ))
        .contains("ENABLED or DISABLED"));
        assert!(msg(ok(
            serde_json::json!({"subnets": ["subnet-1"], "securityGroups": ["sg-1","sg-2","sg-3","sg-4","sg-5","sg-6"]})
        ))
        .contains("at most 5"));
        assert!(
            msg(ok(serde_json::json!({"subnets": ["subnet-1", "subnet-1"]})))
                .contains("duplicates")
        );
        let subnets: Vec<String> = (0..17).map(|i| format!("subnet-{i}")).collect();
        assert!(msg(ok(serde_json::json!({ "subnets": subnets }))).contains("at most 16"));
    }

    #[test]
    fn ec2_errors_read_as_ecs_reports_them() {
        let cfg = AwsVpc {
            subnets: vec!["subnet-0bad".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: None,
        };
        let e = placement_error(
            Ec2Error::InvalidSubnetIdNotFound(vec!["subnet-0bad".into()]),
            &cfg,
        );
        assert_eq!(
            e.to_string(),
            "Error retrieving subnet information for [subnet-0bad]: The subnet ID 'subnet-0bad' does not exist (ErrorCode: InvalidSubnetID.NotFound)"
        );
        assert!(matches!(e, EcsError::InvalidParameterException(_)));
        let e = placement_error(Ec2Error::InvalidGroupNotFound(vec!["sg-1".into()]), &cfg);
        assert_eq!(
            e.to_string(),
            "Error retrieving security group information for [sg-1]: The security group 'sg-1' does not exist (ErrorCode: InvalidGroup.NotFound)"
        );
        assert_eq!(
            attachment_id("0123456789abcdef0123456789abcdef"),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
    }
}
