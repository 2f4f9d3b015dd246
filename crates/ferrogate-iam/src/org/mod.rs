//! AWS Organizations, the subset that service control policies need: an organization with
//! a management account, member accounts created in it (each with an
//! `OrganizationAccountAccessRole` the management account can assume), SCPs, and their
//! attachment to the root or to accounts.
//!
//! The authorizer reads [`scp_view`]: for a member account, the SCPs attached at each level
//! (root, then the account) once the `SERVICE_CONTROL_POLICY` type is enabled; nothing for
//! the management account, which SCPs never restrict.

mod accounts;
pub mod api;
mod common;
mod error;
pub mod model;
pub mod output;
mod policies;

pub use error::OrgError;

use ferrogate_store::{Direction, ReadTx, StoreError};

use model::{tables, FULL_AWS_ACCESS_ID};

/// The SCPs that apply to one account.
#[derive(Debug, Clone)]
pub struct ScpView {
    /// The organization id (`aws:PrincipalOrgID`).
    pub org_id: String,
    /// `(name, document)` per level, root first; `None` when SCPs do not apply.
    pub levels: Option<Vec<Vec<(String, String)>>>,
}

/// The organization view of `account`, or `None` when it is in no organization.
pub fn scp_view(tx: &dyn ReadTx, account: &str) -> Result<Option<ScpView>, StoreError> {
    let Some(m) = tables::MEMBERS.get(tx, &model::keys::member(account))? else {
        return Ok(None);
    };
    let Some(org) = tables::ORGS.get(tx, &model::keys::org(&m.org_id))? else {
        return Ok(None);
    };
    if org.management_account_id == account || !org.scp_enabled {
        return Ok(Some(ScpView {
            org_id: org.id,
            levels: None,
        }));
    }
    let mut levels = Vec::new();
    for target in [org.root_id.as_str(), account] {
        let mut level = Vec::new();
        let prefix = model::keys::target(&org.id, target);
        for (_, a) in tables::ATTACHMENTS.scan(tx, &prefix, None, Direction::Forward, 1000)? {
            if let Some(doc) = policy_document(tx, &org.id, &a.policy_id)? {
                level.push((a.policy_arn, doc));
            }
        }
        levels.push(level);
    }
    Ok(Some(ScpView {
        org_id: org.id,
        levels: Some(levels),
    }))
}

fn policy_document(tx: &dyn ReadTx, org: &str, id: &str) -> Result<Option<String>, StoreError> {
    if id == FULL_AWS_ACCESS_ID {
        return Ok(Some(model::FULL_AWS_ACCESS_DOC.to_owned()));
    }
    Ok(tables::POLICIES
        .get(tx, &model::keys::policy(org, id))?
        .map(|p| p.content))
}
