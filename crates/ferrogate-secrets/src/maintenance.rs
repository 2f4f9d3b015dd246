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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Wrapped;
    use crate::model::{keys, StoredValue};

    fn secret(name: &str, deletion_date: Option<i64>) -> Secret {
        let mut s = crate::model::fixture(name, &[]);
        s.deleted = deletion_date.map(|_| 0);
        s.deletion_date = deletion_date;
        s
    }

    #[test]
    fn only_secrets_past_their_window_are_purged_with_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferrogate_store::Store::open(&dir.path().join("db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let value = StoredValue {
            key: Wrapped::Service("x".into()),
            binary: false,
            sealed: "y".into(),
        };
        let purged = rt
            .block_on(store.write(move |tx| {
                for s in [
                    secret("due", Some(1_000)),
                    secret("later", Some(5_000)),
                    secret("live", None),
                ] {
                    tables::SECRETS.put(tx, &keys::secret(&s.account, &s.region, &s.name), &s)?;
                    let k = keys::value(&s.account, &s.region, &s.name, &s.suffix, "v1");
                    tables::VALUES.put(tx, &k, &value)?;
                }
                purge_deleted(tx, Timestamp::from_millis(1_000))
            }))
            .unwrap();
        assert_eq!(
            purged,
            ["arn:aws:secretsmanager:us-east-1:111122223333:secret:due-AbC123"]
        );
        store
            .read(|tx| {
                let names: Vec<String> = tables::SECRETS
                    .scan(tx, &[], None, Direction::Forward, 10)?
                    .into_iter()
                    .map(|(_, s)| s.name)
                    .collect();
                assert_eq!(names, ["later", "live"]);
                let values = tables::VALUES.scan(tx, &[], None, Direction::Forward, 10)?;
                assert_eq!(values.len(), 2);
                Ok::<_, SecretsError>(())
            })
            .unwrap();
    }
}
