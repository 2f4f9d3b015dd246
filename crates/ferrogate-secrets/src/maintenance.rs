//! What time does to secrets: a secret scheduled for deletion is deleted for good, with
//! every version's value, once its recovery window has ended ("Secrets Manager deletes the
//! secret … at the end of the recovery window", API Reference, DeleteSecret).

use ferrogate_store::{Direction, WriteTx};
use ferrogate_types::Timestamp;

use crate::model::{tables, Secret};
use crate::SecretsError;

/// Deletes every secret whose recovery window ended at or before `now`; the ARNs deleted.
pub fn purge_deleted(tx: &mut dyn WriteTx, now: Timestamp) -> Result<Vec<String>, SecretsError> {
    let mut due: Vec<Secret> = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = tables::SECRETS.scan(&*tx, &[], after.as_deref(), Direction::Forward, 512)?;
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        due.extend(
            batch
                .into_iter()
                .map(|(_, s)| s)
                .filter(|s| s.deletion_date.is_some_and(|d| d <= now.millis())),
        );
    }
    let mut purged = Vec::with_capacity(due.len());
    for s in due {
        crate::ops::purge(tx, &s)?;
        purged.push(s.arn());
    }
    Ok(purged)
}
