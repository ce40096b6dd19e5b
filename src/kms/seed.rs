//! Seed files: keys with fixed ids, aliases, descriptions, tags, states, rotation periods
//! and key material, for test suites that need the same keys in every run (the format is
//! in the README, "Seed files"). This file parses and validates one (TOML); applying it
//! is `seed_apply.rs`.
//!
//! The file is user input: every problem is a ValidationException naming the file, the
//! line and the key, and nothing of the key material is ever repeated (not in errors, not
//! in `Debug`): it is decoded straight into zeroizing buffers.

use super::error::KmsError;
use super::ops::{check_alias_name, check_description, check_rotation_period, validate_tags};
use super::record::Material32;
use super::types::Tag;
use crate::home::check_region;
use base64::Engine;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use toml::Spanned;
use zeroize::Zeroizing;

/// Largest seed file read.
pub const MAX_SEED_FILE: u64 = 4 << 20;
/// Most key material versions a seeded key may have.
pub const MAX_SEED_MATERIALS: usize = 100;

/// A parsed and validated seed file.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Where it came from (a path), for messages.
    pub(super) origin: String,
    pub(super) keys: Vec<SeedKey>,
}

/// One key of a seed file.
#[derive(Debug, Clone)]
pub(super) struct SeedKey {
    pub(super) key_id: [u8; 16],
    /// `None`: the region the seed is applied in (the home's by default).
    pub(super) region: Option<String>,
    pub(super) description: String,
    pub(super) aliases: Vec<String>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) enabled: bool,
    pub(super) rotation_period_days: Option<u32>,
    /// Oldest first; empty: one random material.
    pub(super) materials: Vec<Material32>,
    /// Line of the key's `[[keys]]` in the file.
    pub(super) line: usize,
}

impl SeedKey {
    pub(super) fn uuid(&self) -> String {
        uuid::Uuid::from_bytes(self.key_id).to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    keys: Vec<Spanned<KeyToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyToml {
    key_id: Spanned<String>,
    region: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    tags: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default = "yes")]
    enabled: bool,
    rotation_period_days: Option<Spanned<u32>>,
    key_material: Option<Spanned<SecretStrings>>,
}

fn yes() -> bool {
    true
}

/// `key_material`: a list of strings, kept in zeroizing buffers. Its errors never quote
/// what was written.
struct SecretStrings(Vec<Zeroizing<String>>);

impl<'de> Deserialize<'de> for SecretStrings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> serde::de::Visitor<'de> for List {
            type Value = SecretStrings;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of strings (32 bytes each, base64 or hex)")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = a.next_element::<SecretString>()? {
                    v.push(s.0);
                }
                Ok(SecretStrings(v))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom(
                    "key_material must be a list of strings, not a string",
                ))
            }
        }
        d.deserialize_seq(List)
    }
}

struct SecretString(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Str;
        impl serde::de::Visitor<'_> for Str {
            type Value = SecretString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string (32 bytes, base64 or hex)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(SecretString(Zeroizing::new(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(SecretString(Zeroizing::new(v)))
            }
        }
        d.deserialize_str(Str)
    }
}

/// The line (from 1) of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Seed {
    /// Read and parse the seed file at `path`.
    pub fn read(path: &Path) -> Result<Seed, KmsError> {
        use std::io::Read;
        let origin = path.display().to_string();
        let bad = |why: String| KmsError::Validation(format!("seed file {origin}: {why}"));
        let f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let mut bytes = Zeroizing::new(Vec::new());
        f.take(MAX_SEED_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        if bytes.len() as u64 > MAX_SEED_FILE {
            return Err(bad(format!("larger than {MAX_SEED_FILE} bytes")));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8".into()))?;
        Seed::parse(text, &origin)
    }

    /// Parse and validate a seed file's text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Seed, KmsError> {
        let file: FileToml = toml::from_str(text).map_err(|e| {
            // The message only: the error's Display quotes the line, which may hold key
            // material.
            let at = e
                .span()
                .map(|s| format!(" line {}", line_of(text, s.start)))
                .unwrap_or_default();
            let msg = e.message().trim_end();
            KmsError::Validation(format!("seed file {origin}{at}: {msg}"))
        })?;
        let mut keys = Vec::with_capacity(file.keys.len());
        for k in file.keys {
            let line = line_of(text, k.span().start);
            keys.push(key(k.into_inner(), text, line).map_err(|why| {
                KmsError::Validation(format!("seed file {origin} line {}: {why}", why.line))
            })?);
        }
        let seed = Seed {
            origin: origin.to_string(),
            keys,
        };
        seed.check_unique(None)?;
        Ok(seed)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Refuse a key id given twice, or an alias given twice in one region (keys without a
    /// region are in `default_region`; with `None`, only keys with the same written
    /// region are compared).
    pub(super) fn check_unique(&self, default_region: Option<&str>) -> Result<(), KmsError> {
        let mut ids = HashSet::new();
        let mut aliases = HashSet::new();
        for k in &self.keys {
            let fail = |why: String| {
                KmsError::Validation(format!("seed file {} line {}: {why}", self.origin, k.line))
            };
            if !ids.insert(k.key_id) {
                return Err(fail(format!("key {} is given twice", k.uuid())));
            }
            let region = k.region.as_deref().or(default_region);
            for a in &k.aliases {
                if !aliases.insert((region, a.as_str())) {
                    return Err(fail(format!(
                        "alias {a} is given twice in region {}",
                        region.unwrap_or("(default)")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Why a key of a seed file is refused, and where.
struct Refusal {
    line: usize,
    why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// Validate one `[[keys]]` table (at `line`).
fn key(k: KeyToml, text: &str, line: usize) -> Result<SeedKey, Refusal> {
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    let id_str = k.key_id.get_ref().as_str();
    let refuse = |line: usize, why: String| Refusal {
        line,
        why: format!("key {id_str}: {why}"),
    };
    let key_id = match uuid::Uuid::try_parse(id_str) {
        Ok(u) if u.hyphenated().to_string() == id_str.to_ascii_lowercase() => *u.as_bytes(),
        _ => {
            return Err(Refusal {
                line: at(k.key_id.span()),
                why: format!(
                    "key_id '{id_str}' is not a key id like 11111111-2222-3333-4444-555555555555"
                ),
            });
        }
    };
    let aws = |e: KmsError| e.message();
    let region = match &k.region {
        Some(r) => {
            check_region(r.get_ref()).map_err(|e| refuse(at(r.span()), e.to_string()))?;
            Some(r.get_ref().clone())
        }
        None => None,
    };
    let description = match &k.description {
        Some(d) => {
            check_description(d.get_ref()).map_err(|e| refuse(at(d.span()), aws(e)))?;
            d.get_ref().clone()
        }
        None => String::new(),
    };
    let mut aliases = Vec::new();
    for a in &k.aliases {
        check_alias_name(a.get_ref()).map_err(|e| refuse(at(a.span()), aws(e)))?;
        aliases.push(a.get_ref().clone());
    }
    if aliases.len() > super::service::MAX_ALIASES_PER_KEY {
        let n = super::service::MAX_ALIASES_PER_KEY;
        return Err(refuse(line, format!("more than {n} aliases")));
    }
    let tags = match &k.tags {
        Some(t) => {
            let list: Vec<Tag> = (t.get_ref().iter())
                .map(|(k, v)| Tag {
                    tag_key: k.clone(),
                    tag_value: v.clone(),
                })
                .collect();
            validate_tags(&BTreeMap::new(), &list).map_err(|e| refuse(at(t.span()), aws(e)))?
        }
        None => BTreeMap::new(),
    };
    let rotation_period_days = match &k.rotation_period_days {
        Some(p) => Some(
            check_rotation_period(Some(*p.get_ref())).map_err(|e| refuse(at(p.span()), aws(e)))?,
        ),
        None => None,
    };
    let materials = match &k.key_material {
        Some(m) => materials(m.get_ref()).map_err(|why| refuse(at(m.span()), why))?,
        None => Vec::new(),
    };
    Ok(SeedKey {
        key_id,
        region,
        description,
        aliases,
        tags,
        enabled: k.enabled,
        rotation_period_days,
        materials,
        line,
    })
}

/// Decode `key_material`: each 32 bytes, as 64 hex digits or base64 (standard, padded).
fn materials(list: &SecretStrings) -> Result<Vec<Material32>, String> {
    if list.0.is_empty() {
        return Err("key_material is empty (leave it out for random material)".into());
    }
    if list.0.len() > MAX_SEED_MATERIALS {
        return Err(format!(
            "more than {MAX_SEED_MATERIALS} key_material versions"
        ));
    }
    list.0
        .iter()
        .enumerate()
        .map(|(i, s)| {
            decode_material(s.trim()).ok_or_else(|| {
                format!(
                    "key_material[{i}] is not 32 bytes written as base64 (44 characters) or hex (64 digits)"
                )
            })
        })
        .collect()
}

/// 32 bytes from 64 hex digits or from base64; `None` otherwise.
fn decode_material(s: &str) -> Option<Material32> {
    let mut out = Material32(Zeroizing::new([0u8; 32]));
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out.0[i] = (hi * 16 + lo) as u8;
        }
        return Some(out);
    }
    let mut buf = Zeroizing::new([0u8; 48]);
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(s, &mut buf[..])
        .ok()?;
    if n != 32 {
        return None;
    }
    out.0.copy_from_slice(&buf[..32]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    const M2: &str = "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40";

    fn parse(text: &str) -> Result<Seed, String> {
        Seed::parse(text, "s.toml").map_err(|e| e.message())
    }

    #[test]
    fn a_full_key_parses() {
        let s = parse(&format!(
            r#"
[[keys]]
key_id = "11111111-2222-3333-4444-555555555555"
region = "us-west-2"
description = "app key"
aliases = ["alias/app", "alias/app2"]
tags = {{ Project = "demo", Owner = "qa" }}
enabled = false
rotation_period_days = 180
key_material = ["{M1}", "{M2}"]

[[keys]]
key_id = "11111111-2222-3333-4444-555555555556"
"#
        ))
        .unwrap();
        assert_eq!(s.len(), 2);
        let k = &s.keys[0];
        assert_eq!(k.uuid(), "11111111-2222-3333-4444-555555555555");
        assert_eq!(k.region.as_deref(), Some("us-west-2"));
        assert_eq!((k.enabled, k.rotation_period_days), (false, Some(180)));
        assert_eq!(k.aliases, ["alias/app", "alias/app2"]);
        assert_eq!(k.tags["Project"], "demo");
        assert_eq!(k.materials.len(), 2);
        assert_eq!(k.materials[0].0[..4], [1, 2, 3, 4]);
        assert_eq!(k.materials[1].0[..4], [0x21, 0x22, 0x23, 0x24]);
        assert_eq!(k.line, 2);
        let d = &s.keys[1];
        assert!(d.enabled && d.materials.is_empty() && d.region.is_none());
        assert_eq!(d.line, 12);
        assert!(!format!("{s:?}").contains(M1) && !format!("{s:?}").contains("2122"));
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn each_mistake_is_named_with_its_line() {
        let id = r#"key_id = "11111111-2222-3333-4444-555555555555""#;
        for (body, want) in [
            (
                r#"key_id = "nope""#.to_string(),
                "line 3: key_id 'nope' is not a key id",
            ),
            (
                format!("{id}\ncolour = 1"),
                "line 4: unknown field `colour`",
            ),
            (
                format!("{id}\nregion = \"Mars\""),
                "line 4: key 11111111-2222-3333-4444-555555555555: region 'Mars'",
            ),
            (
                format!("{id}\naliases = [\"alias/aws/x\"]"),
                "line 4: key 11111111-2222-3333-4444-555555555555: Alias name 'alias/aws/x' is reserved",
            ),
            (
                format!("{id}\naliases = [\"app\"]"),
                "must begin with 'alias/'",
            ),
            (format!("{id}\nrotation_period_days = 5"), "line 4:"),
            (format!("{id}\ntags = {{ \"aws:x\" = \"1\" }}"), "reserved"),
            (
                format!("{id}\nkey_material = [\"c2hvcnQ=\"]"),
                "line 4: key 11111111-2222-3333-4444-555555555555: key_material[0] is not 32 bytes",
            ),
            (format!("{id}\nkey_material = []"), "empty"),
            (
                format!("{id}\nkey_material = \"{M1}\""),
                "must be a list of strings",
            ),
            (
                format!("{id}\nkey_material = [\"{M1}\", \"!!\"]"),
                "key_material[1]",
            ),
            (
                format!("{id}\n[[keys]]\n{id}"),
                "line 4: key 11111111-2222-3333-4444-555555555555 is given twice",
            ),
            (
                format!(
                    "{id}\naliases = [\"alias/a\"]\n[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555556\"\naliases = [\"alias/a\"]"
                ),
                "alias alias/a is given twice",
            ),
            (format!("{id}\nenabled = \"yes\""), "line 4:"),
            (format!("{id}\n= broken"), "line 4:"),
        ] {
            let text = format!("# a seed\n[[keys]]\n{body}\n");
            let e = parse(&text).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
            assert!(e.starts_with("seed file s.toml"), "{e}");
            assert!(!e.contains(M1), "{e}");
        }
        let e = parse("[other]\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("unknown field"), "{e}");
    }

    #[test]
    fn material_is_never_quoted() {
        // A secret that is not valid in several ways: wrong length in base64 and in hex,
        // not a string at all, a broken string.
        let secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj";
        for v in [
            format!("[\"{secret}\"]"),
            format!("[\"{secret}\", 5]"),
            format!("\"{secret}\""),
            format!("[\"{secret}"),
            format!("{{ a = \"{secret}\" }}"),
        ] {
            let text = format!(
                "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\nkey_material = {v}\n"
            );
            let e = parse(&text).unwrap_err();
            assert!(!e.contains(secret) && !e.contains("c2Vj"), "{v}: {e}");
        }
    }
}
