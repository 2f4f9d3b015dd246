//! Random identifiers: task ids, volume ids, deployment ids, service event ids.

use crate::EcsError;

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, EcsError> {
    let mut b = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| EcsError::RandomnessUnavailable)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A new deployment id: `ecs-svc/` and 19 digits.
pub fn deployment_id() -> Result<String, EcsError> {
    let hex = random_hex(8)?;
    let n = u64::from_str_radix(&hex, 16).unwrap_or(0) % 9_000_000_000_000_000_000
        + 1_000_000_000_000_000_000;
    Ok(format!("ecs-svc/{n}"))
}

/// A service event id (a UUID's shape).
pub(crate) fn event_id() -> Result<String, EcsError> {
    let hex = random_hex(16)?;
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}
