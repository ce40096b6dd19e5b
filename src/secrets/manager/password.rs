//! GetRandomPassword: a password of the asked length from the character classes the caller
//! keeps (lowercase, uppercase, digits, AWS's punctuation, optionally the space), drawn
//! uniformly from the operating system's random source (rejection sampling, no modulo
//! bias), with at least one character of every class kept when `RequireEachIncludedType`
//! (the default) asks for it. Managed rotation uses it for new values.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// `GetRandomPasswordRequest`, AWS's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PasswordSpec {
    pub password_length: Option<i64>,
    pub exclude_characters: Option<String>,
    pub exclude_numbers: Option<bool>,
    pub exclude_punctuation: Option<bool>,
    pub exclude_uppercase: Option<bool>,
    pub exclude_lowercase: Option<bool>,
    pub include_space: Option<bool>,
    pub require_each_included_type: Option<bool>,
}

/// AWS's default length.
pub const DEFAULT_LENGTH: i64 = 32;
/// AWS's longest password.
pub const MAX_LENGTH: i64 = 4096;
/// The punctuation AWS draws from.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A random password per `spec`; `Err` is the message of AWS's InvalidParameterException.
pub fn random_password(spec: &PasswordSpec) -> Result<Zeroizing<String>, String> {
    let length = spec.password_length.unwrap_or(DEFAULT_LENGTH);
    if !(1..=MAX_LENGTH).contains(&length) {
        return Err(format!(
            "Invalid PasswordLength: {length}. The length must be between 1 and {MAX_LENGTH}."
        ));
    }
    let length = length as usize;
    let classes = classes(spec);
    if classes.is_empty() {
        return Err("The password can't be generated: every character is excluded.".into());
    }
    let require = spec.require_each_included_type.unwrap_or(true);
    if require && classes.len() > length {
        return Err(format!(
            "The password length {length} is too short to include a character of each of the {} included types.",
            classes.len()
        ));
    }
    let all: Vec<u8> = classes.iter().flatten().copied().collect();
    let mut out = Zeroizing::new(Vec::with_capacity(length));
    if require {
        for class in &classes {
            out.push(class[uniform(class.len())?]);
        }
    }
    while out.len() < length {
        out.push(all[uniform(all.len())?]);
    }
    // Shuffle (Fisher-Yates) so the required characters are not at the front.
    for i in (1..out.len()).rev() {
        let j = uniform(i + 1)?;
        out.swap(i, j);
    }
    let s = String::from_utf8(out.to_vec()).map_err(|_| "not ASCII".to_string())?;
    Ok(Zeroizing::new(s))
}

/// The character classes kept, each without the excluded characters (empty ones dropped).
fn classes(spec: &PasswordSpec) -> Vec<Vec<u8>> {
    let exclude = spec.exclude_characters.as_deref().unwrap_or("");
    let keep = |on: Option<bool>, set: &str| -> Option<Vec<u8>> {
        if on.unwrap_or(false) {
            return None;
        }
        let v: Vec<u8> = set
            .bytes()
            .filter(|b| !exclude.as_bytes().contains(b))
            .collect();
        (!v.is_empty()).then_some(v)
    };
    [
        keep(spec.exclude_lowercase, "abcdefghijklmnopqrstuvwxyz"),
        keep(spec.exclude_uppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        keep(spec.exclude_numbers, "0123456789"),
        keep(spec.exclude_punctuation, PUNCTUATION),
        keep(spec.include_space.map(|i| !i).or(Some(true)), " "),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A uniform index below `n` (`n` >= 1).
fn uniform(n: usize) -> Result<usize, String> {
    let n = n as u32;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let mut b = [0u8; 4];
        crate::crypto::fill_random(&mut b).map_err(|e| e.to_string())?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok((v % n) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_classes() {
        let p = random_password(&PasswordSpec::default()).unwrap();
        assert_eq!(p.len(), 32);
        assert!(p.bytes().any(|b| b.is_ascii_lowercase()));
        assert!(p.bytes().any(|b| b.is_ascii_uppercase()));
        assert!(p.bytes().any(|b| b.is_ascii_digit()));
        assert!(p.bytes().any(|b| PUNCTUATION.as_bytes().contains(&b)));
        assert!(!p.contains(' '));
        let spec = PasswordSpec {
            password_length: Some(200),
            exclude_punctuation: Some(true),
            exclude_uppercase: Some(true),
            exclude_characters: Some("abc".into()),
            include_space: Some(true),
            ..Default::default()
        };
        let p = random_password(&spec).unwrap();
        assert_eq!(p.len(), 200);
        assert!(p.contains(' '));
        assert!(
            p.bytes()
                .all(|b| b == b' ' || b.is_ascii_digit() || (b'd'..=b'z').contains(&b))
        );
        // Two passwords differ.
        assert_ne!(
            *random_password(&PasswordSpec::default()).unwrap(),
            *random_password(&PasswordSpec::default()).unwrap()
        );
    }

    #[test]
    fn refusals() {
        for len in [0, 4097, -1] {
            let s = PasswordSpec {
                password_length: Some(len),
                ..Default::default()
            };
            assert!(random_password(&s).is_err());
        }
        let none = PasswordSpec {
            exclude_lowercase: Some(true),
            exclude_uppercase: Some(true),
            exclude_numbers: Some(true),
            exclude_punctuation: Some(true),
            ..Default::default()
        };
        assert!(random_password(&none).is_err());
        let short = PasswordSpec {
            password_length: Some(3),
            ..Default::default()
        };
        assert!(random_password(&short).is_err());
        let short_ok = PasswordSpec {
            password_length: Some(3),
            require_each_included_type: Some(false),
            ..Default::default()
        };
        assert_eq!(random_password(&short_ok).unwrap().len(), 3);
    }
}
