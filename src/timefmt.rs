//! Wall-clock time as the project stores and shows it: milliseconds since the Unix epoch,
//! RFC 3339 strings (audit trail, volumes, snapshots, objects) and AWS's epoch seconds.

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The system clock now, in milliseconds since the epoch (no test offset: the KMS's own
/// clock is `kms::Clock`).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as Millis
}

/// Epoch seconds as AWS sends timestamps (a JSON number, fraction allowed).
pub fn epoch_secs(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: Millis) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(epoch_secs(1_500), 1.5);
        assert!(now_ms() > 1_700_000_000_000);
    }
}
