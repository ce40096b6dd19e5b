//! The seeds of the policy parser's fuzz target: the evaluation table's key and identity
//! policies, one of each refusal, and damaged copies.

use super::damaged;
use super::policies::*;

pub(crate) fn policy_seeds() -> Vec<Vec<u8>> {
    let good = [
        DEFAULT,
        CONSOLE,
        NO_ROOT,
        VIA,
        EC,
        CROSS,
        DENY,
        NOT,
        GLOBAL,
        ID_USE_ALL_KEYS,
        ID_DESCRIBE_ONE_KEY,
        ID_DENY_DECRYPT,
        ID_NOT_ACTION,
    ];
    let mut seeds: Vec<Vec<u8>> = good.iter().map(|s| s.as_bytes().to_vec()).collect();
    for (from, to) in [
        ("\"Allow\"", "\"Permit\""),                  // unknown Effect
        ("StringEquals", "StringEqualz"),             // unknown operator
        ("\"Principal\"", "\"Principals\""),          // unknown element, no Principal
        ("111122223333", "1111"),                     // invalid principal
        ("\"kms:Encrypt\"", "\"Encrypt\""),           // no vendor
        ("203.0.113.0/24", "203.0.113.0/99"),         // bad CIDR
        ("2031-01-01T00:00:00Z", "next year"),        // bad date
        ("\"Version\":\"2012-10-17\",", ""),          // no Version
        ("\"Sid\":\"Epoch\"", "\"Sid\":\"ByAlias\""), // duplicate Sid
    ] {
        seeds.push(GLOBAL.replacen(from, to, 1).into_bytes());
    }
    seeds.push(br#"{"Statement":[]}"#.to_vec());
    seeds.extend(damaged(CONSOLE.as_bytes()));
    seeds
}

/// At least 10 of the checked-in seeds parse (as a key or an identity policy).
pub(crate) fn seeds_parse(files: &[Vec<u8>]) {
    use kmsfs::policy::{Policy, PolicyKind};
    let parses = |f: &Vec<u8>| {
        let text = String::from_utf8_lossy(f);
        [PolicyKind::Key, PolicyKind::Identity]
            .iter()
            .any(|k| Policy::parse(&text, *k).is_ok())
    };
    let parsed = files.iter().filter(|f| parses(f)).count();
    assert!(parsed >= 10, "only {parsed} policy seeds parse");
}
