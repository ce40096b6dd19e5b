//! IAM's wildcard matching: `*` matches any run of characters (also none), `?` exactly one.
//! No allocation: the classic two-pointer algorithm with one backtrack point.

/// Whether `text` matches `pattern`; with `fold`, ASCII letters match whatever their case
/// (action names), else case-sensitively (resources, ARNs, `StringLike`).
pub fn glob_match(pattern: &str, text: &str, fold: bool) -> bool {
    // Fast paths, the common cases: no wildcard, or a trailing `*` only.
    if !pattern.contains(['*', '?']) {
        return eq(pattern, text, fold);
    }
    if let Some(prefix) = pattern.strip_suffix('*')
        && !prefix.contains(['*', '?'])
    {
        return text.len() >= prefix.len()
            && text.is_char_boundary(prefix.len())
            && eq(prefix, &text[..prefix.len()], fold);
    }
    if pattern.is_ascii() && text.is_ascii() {
        return match_units(pattern.as_bytes(), text.as_bytes(), fold, b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_units(&p, &t, fold, '*', '?')
}

fn eq(a: &str, b: &str, fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

trait Unit: Copy + PartialEq {
    fn same(self, other: Self, fold: bool) -> bool;
}

impl Unit for u8 {
    fn same(self, other: u8, fold: bool) -> bool {
        if fold {
            self.eq_ignore_ascii_case(&other)
        } else {
            self == other
        }
    }
}

impl Unit for char {
    fn same(self, other: char, fold: bool) -> bool {
        if fold {
            self.eq_ignore_ascii_case(&other)
        } else {
            self == other
        }
    }
}

fn match_units<U: Unit>(p: &[U], t: &[U], fold: bool, star: U, one: U) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == star {
            back = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == one || p[pi].same(t[ti], fold)) {
            pi += 1;
            ti += 1;
        } else if let Some((bp, bt)) = back {
            pi = bp + 1;
            ti = bt + 1;
            back = Some((bp, bt + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&u| u == star)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn wildcards() {
        assert!(glob_match("kms:*", "kms:Decrypt", true));
        assert!(glob_match("KMS:decrypt", "kms:Decrypt", true));
        assert!(!glob_match("KMS:decrypt", "kms:Decrypt", false));
        assert!(glob_match("kms:ReEncrypt*", "kms:ReEncryptFrom", true));
        assert!(glob_match("kms:*Key*", "kms:GenerateDataKeyPair", true));
        assert!(glob_match("a?c", "abc", false));
        assert!(!glob_match("a?c", "ac", false));
        assert!(glob_match("*", "", false));
        assert!(glob_match("a*b*c", "axxbyyc", false));
        assert!(!glob_match("a*b*c", "axxbyy", false));
        assert!(glob_match("é*", "éa", false));
        assert!(glob_match("?", "é", false));
    }
}
