//! Key ids as AWS shows them: a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`) for a
//! single-Region key, `mrk-` and 32 lowercase hex digits for a multi-Region key. Both are 16
//! bytes in the key record, the blob header and the keystore's file names; the bytes of a
//! multi-Region key are a UUID version 8 (RFC 9562 variant), so the bytes alone say
//! "multi-Region" and no single-Region key (version 4) ever has that shape.

/// The prefix of a multi-Region key id.
pub(crate) const MRK_PREFIX: &str = "mrk-";

/// Whether the 16 bytes of a key id are those of a multi-Region key (UUID version 8).
pub fn is_multi_region(id: &[u8; 16]) -> bool {
    id[6] >> 4 == 8 && id[8] & 0xc0 == 0x80
}

/// A new random multi-Region key id: random bytes with the version nibble 8 and the RFC
/// variant bits.
pub(crate) fn new_multi_region(mut random: [u8; 16]) -> [u8; 16] {
    random[6] = (random[6] & 0x0f) | 0x80;
    random[8] = (random[8] & 0x3f) | 0x80;
    random
}

/// The key id as AWS shows it.
pub fn format(id: &[u8; 16]) -> String {
    if is_multi_region(id) {
        let mut s = String::with_capacity(36);
        s.push_str(MRK_PREFIX);
        s.push_str(&crate::crypto::hex(id));
        s
    } else {
        uuid::Uuid::from_bytes(*id).hyphenated().to_string()
    }
}

/// The 16 bytes of a key id as AWS spells it: a UUID of a single-Region key (any case), or
/// `mrk-` and 32 hex digits of a multi-Region key. A UUID spelling of a multi-Region key's
/// bytes, or `mrk-` with the bytes of a single-Region key, names no key (`None`).
pub fn parse(s: &str) -> Option<[u8; 16]> {
    if let Some(hex) = s.strip_prefix(MRK_PREFIX) {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        return is_multi_region(&id).then_some(id);
    }
    match uuid::Uuid::try_parse(s) {
        Ok(u) if u.hyphenated().to_string() == s.to_ascii_lowercase() => {
            let id = *u.as_bytes();
            (!is_multi_region(&id)).then_some(id)
        }
        _ => None,
    }
}

/// The 16 bytes of a key id as the keystore writes it (alias targets, grant markers: the
/// UUID form of either kind), or as AWS spells it.
pub(crate) fn parse_stored(s: &str) -> Option<[u8; 16]> {
    parse(s).or_else(|| uuid::Uuid::try_parse(s).ok().map(|u| *u.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_region_ids_round_trip_and_refuse_the_other_spelling() {
        let id = new_multi_region([0xab; 16]);
        let s = format(&id);
        assert!(s.starts_with("mrk-") && s.len() == 36, "{s}");
        assert_eq!(s[4..], s[4..].to_ascii_lowercase());
        assert_eq!(parse(&s), Some(id));
        let as_uuid = uuid::Uuid::from_bytes(id).to_string();
        assert_eq!(parse(&as_uuid), None, "a UUID spelling of an mrk id");
        assert_eq!(parse_stored(&as_uuid), Some(id));
        let single = *uuid::Uuid::new_v4().as_bytes();
        assert!(!is_multi_region(&single));
        assert_eq!(parse(&format(&single)), Some(single));
        assert_eq!(parse(&format!("mrk-{}", crate::crypto::hex(&single))), None);
        assert_eq!(parse("mrk-00"), None);
        assert_eq!(parse(&format!("mrk-{}", "zz".repeat(16))), None);
    }
}
