//! Scope sets as the cache compares them: whitespace-split, lowercased, with Microsoft Graph's
//! resource prefix removed, deduplicated, sorted.
//!
//! In Microsoft Entra ID v2 an unqualified scope (`User.Read`) belongs to Microsoft Graph, and
//! Entra echoes Graph scopes in that short form even when they were requested fully qualified
//! (`https://graph.microsoft.com/User.Read`). MSAL Python caches the echo and then misses when
//! the application asks again with the qualified form; here both forms are the same scope.

/// Prefixes that name Microsoft Graph (by URI and by application id), lowercased.
const GRAPH_PREFIXES: [&str; 2] = [
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000/",
];

/// A lowercased scope without Microsoft Graph's resource prefix.
fn canonical(scope: &str) -> String {
    let mut scope = lower(scope);
    if let Some(prefix) = GRAPH_PREFIXES.iter().find(|p| {
        scope.len() > p.len() && scope.starts_with(*p) && !scope[p.len()..].starts_with('/')
    }) {
        scope.drain(..prefix.len());
    }
    scope
}

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
    let scopes = scopes.into_iter();
    // Usually one scope per item: allocated once, without the flattening iterator's regrowth.
    let mut set: Vec<String> = Vec::with_capacity(scopes.size_hint().0);
    for item in scopes {
        if is_one_scope(item) {
            set.push(canonical(item));
        } else {
            set.extend(item.split_whitespace().map(canonical));
        }
    }
    if set.len() > 1 {
        set.sort_unstable();
        set.dedup();
    }
    set
}

/// Whether `item` is one non-empty scope as `str::split_whitespace` sees it (checked on the
/// bytes; text that is not ASCII answers `false`, to be split the general way).
pub(crate) fn is_one_scope(item: &str) -> bool {
    !item.is_empty()
        && item
            .bytes()
            .all(|b| b.is_ascii() && !char::from(b).is_whitespace())
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
    fn one_scope_is_what_split_whitespace_sees_as_one() {
        for item in [
            "a",
            "User.Read",
            "api://x/.default",
            "",
            " ",
            "a b",
            "a\tb",
            "a\u{b}b",
            "a\u{a0}b",
            "é",
        ] {
            let split: Vec<&str> = item.split_whitespace().collect();
            if is_one_scope(item) {
                assert_eq!(split, [item]);
            }
            assert_eq!(normalize([item]), normalize(split));
        }
        assert!(is_one_scope("User.Read") && !is_one_scope("a\u{b}b") && !is_one_scope(""));
    }

    #[test]
    fn normalizes_and_compares() {
        let big = normalize(["User.Read openid", "Api://X/Read", "openid"]);
        assert_eq!(big, ["api://x/read", "openid", "user.read"]);
        assert!(is_subset(&normalize(["API://X/READ", "user.read"]), &big));
        assert!(is_subset(&[], &big));
        assert!(!is_subset(&normalize(["profile"]), &big));
        assert!(!is_subset(&big, &normalize(["openid"])));
    }

    #[test]
    fn graph_scopes_match_in_short_and_qualified_form() {
        assert_eq!(
            normalize([
                "https://graph.microsoft.com/User.Read",
                "00000003-0000-0000-c000-000000000000/Mail.Read",
                "HTTPS://GRAPH.MICROSOFT.COM/.default",
            ]),
            [".default", "mail.read", "user.read"]
        );
        // Other resources keep their prefix; a bare or odd prefix is left alone.
        assert_eq!(
            normalize(["api://x/User.Read", "https://graph.microsoft.com/"]),
            ["api://x/user.read", "https://graph.microsoft.com/"]
        );
        assert_eq!(
            normalize(["https://graph.microsoft.com//User.Read"]),
            ["https://graph.microsoft.com//user.read"]
        );
    }
}
