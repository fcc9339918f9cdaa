//! Scope sets as the cache compares them: whitespace-split, lowercased, deduplicated, sorted.

/// Lowercases one scope or identifier, without allocating twice for ASCII.
pub(crate) fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// The normalized set of `scopes` (each item may itself hold several space-separated scopes).
pub(crate) fn normalize<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut set: Vec<String> = scopes
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(lower)
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// Whether sorted `small` ⊆ sorted `big`.
pub(crate) fn is_subset(small: &[String], big: &[String]) -> bool {
    if small.len() > big.len() {
        return false;
    }
    let mut rest = big;
    for s in small {
        match rest.binary_search(s) {
            Ok(i) => rest = &rest[i + 1..],
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_compares() {
        let big = normalize(["User.Read openid", "Api://X/Read", "openid"]);
        assert_eq!(big, ["api://x/read", "openid", "user.read"]);
        assert!(is_subset(&normalize(["API://X/READ", "user.read"]), &big));
        assert!(is_subset(&[], &big));
        assert!(!is_subset(&normalize(["profile"]), &big));
        assert!(!is_subset(&big, &normalize(["openid"])));
    }
}
