//! The seeds of the configuration-file fuzz targets: AWS config and credentials files
//! (`aws_config`) and seed files (`seed_file`).

use super::damaged;

/// AWS config and credentials files: profiles, a services section, continuation lines,
/// comments, and broken ones.
pub(crate) fn aws_config_seeds() -> Vec<Vec<u8>> {
    let good = "# c\n[default]\nregion = eu-west-1\n[profile p]\nservices = s\nca_bundle = /ca.pem\n\
                [services s]\nkms =\n  endpoint_url = https://127.0.0.1:4599\n  ; c\n";
    let creds = "[p]\naws_access_key_id=AKIA\naws_secret_access_key : s\nKey = one\n  two\n";
    let mut seeds: Vec<Vec<u8>> = [
        good,
        creds,
        "[a\n",
        "[a]\n[a]\n",
        "[a]\nk =\n  x\n",
        "k = v\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    seeds.extend(damaged(good.as_bytes()));
    seeds
}

/// Seed files: valid ones (every field, each material encoding, several regions), and one
/// of each refusal.
pub(crate) fn seed_file_seeds() -> Vec<Vec<u8>> {
    let full = concat!(
        "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\nregion = \"us-west-2\"\n",
        "description = \"app key\"\naliases = [\"alias/app\", \"alias/app-2\"]\n",
        "tags = { Project = \"demo\", Owner = \"qa\" }\nenabled = false\nrotation_period_days = 365\n",
        "key_material = [\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\",\n",
        "  \"2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40\"]\n\n",
        "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555556\"\naliases = [\"alias/app\"]\n",
    );
    let mut out: Vec<String> = vec![
        full.to_string(),
        String::new(),
        "keys = [{ key_id = \"11111111-2222-3333-4444-555555555557\", region = \"cn-north-1\" }]\n"
            .into(),
    ];
    for (from, to) in [
        ("555555555555\"", "5555\""),            // not a UUID
        ("us-west-2", "Mars"),                   // not a region
        ("alias/app-2", "alias/aws/ebs"),        // reserved alias
        ("Owner", "aws:owner"),                  // reserved tag
        ("365", "7"),                            // rotation period out of range
        ("eHyA=", "eHy"),                        // material of a bad length
        ("enabled = false", "colour = 1"),       // unknown field
        ("555555555556", "555555555555"),        // a key twice
        ("[[keys]]\nkey_id", "[[keys]\nkey_id"), // broken TOML
    ] {
        out.push(full.replacen(from, to, 1));
    }
    let mut seeds: Vec<Vec<u8>> = out.into_iter().map(String::into_bytes).collect();
    seeds.extend(damaged(full.as_bytes()));
    seeds
}
