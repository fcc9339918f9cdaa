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
    let prefix = scope.len() - without_graph_prefix(&scope).len();
    scope.drain(..prefix);
    scope
}

/// `scope` without Microsoft Graph's prefix (in any case), when a scope is named after it.
fn without_graph_prefix(scope: &str) -> &str {
    GRAPH_PREFIXES
        .iter()
        .find(|p| {
            scope.len() > p.len()
                && scope.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                && !scope.as_bytes()[p.len()..].starts_with(b"/")
        })
        // The prefix is ASCII, so its end is a character boundary.
        .map_or(scope, |p| &scope[p.len()..])
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

/// Whether sorted `small` ⊆ sorted `big` (the reference [`is_subset_of_text`] is tested against).
#[cfg(test)]
fn is_subset(small: &[String], big: &[String]) -> bool {
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

/// The normalized scope set of a filed token's target, as text: the scopes [`normalize`] gives,
/// separated by one space. No copy is kept (`None`) when the target is already in that form (one
/// lowercase scope, or sorted lowercase ones: the usual case), so most entries hold one text for
/// both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetScopes(Option<Box<str>>);

impl TargetScopes {
    /// The set of `target` (space-separated scopes, as filed).
    pub(crate) fn of(target: &str) -> Self {
        if is_normalized_text(target) {
            Self(None)
        } else {
            Self(Some(normalized_text(target)))
        }
    }

    /// The set's text: `target` itself (the one [`of`](Self::of) was given), or the copy.
    pub(crate) fn text<'a>(&'a self, target: &'a str) -> &'a str {
        self.0.as_deref().unwrap_or(target)
    }
}

/// [`normalize`]'s set of the space-separated `target`, as one text (single spaces). ASCII
/// text, the usual case, is sorted as borrowed pieces and written once, lowercased: two
/// allocations however many scopes, not one per scope and two more for the list and the join.
fn normalized_text(target: &str) -> Box<str> {
    if !target.is_ascii() {
        return normalize(target.split_whitespace()).join(" ").into();
    }
    let mut pieces: Vec<&str> = target
        .split_whitespace()
        .map(without_graph_prefix)
        .collect();
    pieces.sort_unstable_by(|a, b| {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    });
    pieces.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    // One allocation of the exact size; lowercased in place.
    let mut text = pieces.join(" ");
    text.make_ascii_lowercase();
    text.into_boxed_str()
}

/// Whether `text` is already a normalized set's text: ASCII scopes in canonical form
/// ([`canonical`]), strictly ascending (so without duplicates), separated by single spaces.
fn is_normalized_text(text: &str) -> bool {
    if !text.is_ascii() || text.starts_with(' ') || text.ends_with(' ') {
        return false;
    }
    text.is_empty() || is_normalized(text.split(' '))
}

/// Whether `scopes` are what [`normalize`] makes of them: each one ASCII scope in canonical
/// form ([`canonical`]), in strictly ascending order (so without duplicates).
pub(crate) fn is_normalized<'a>(scopes: impl IntoIterator<Item = &'a str>) -> bool {
    let mut previous: Option<&str> = None;
    scopes.into_iter().all(|scope| {
        let canonical = is_one_scope(scope)
            && !scope.bytes().any(|b| b.is_ascii_uppercase())
            && without_graph_prefix(scope).len() == scope.len();
        let ascending = previous.is_none_or(|p| p < scope);
        previous = Some(scope);
        canonical && ascending
    })
}

/// The scopes of a normalized set's text ([`TargetScopes::text`]).
pub(crate) fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|s| !s.is_empty())
}

/// Whether every scope of the normalized list `small` is in the normalized set `big` (a set's
/// text): one merge walk.
pub(crate) fn is_subset_of_text(small: &[String], big: &str) -> bool {
    let mut big = items(big);
    small.iter().all(|wanted| {
        big.by_ref()
            .find(|have| have.as_bytes() >= wanted.as_bytes())
            .is_some_and(|have| have == wanted)
    })
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

    #[test]
    fn a_target_set_is_the_normalized_set_and_copies_only_when_it_must() {
        let targets = [
            "",
            " ",
            "scope_1",
            "a b c",
            "b a",
            "a a",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "a\u{b}b",
            "User.Read",
            "openid profile user.read",
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com/",
            "https://graph.microsoft.com//x",
            "api://x/read api://x/write",
            "Ünïcode ünïcode",
            "z y x",
            "B b A a",
            "User.Read USER.READ user.read",
            "HTTPS://GRAPH.MICROSOFT.COM/User.Read user.read Mail.Read",
            "00000003-0000-0000-C000-000000000000/Mail.Read https://graph.microsoft.com/.default",
            "HTTPS://GRAPH.MICROSOFT.COM/ HTTPS://GRAPH.MICROSOFT.COM//X",
            "ab a abc A",
            "a_ a- a. a/ a~ A0 a",
            "\tx\u{c}Y\r\nz\u{b}",
        ];
        // Every three-item text of these pieces, against the general way.
        let pieces = [
            "a",
            "A",
            "b",
            "a.b",
            "https://graph.microsoft.com/a",
            "HTTPS://Graph.Microsoft.com/A",
            "https://graph.microsoft.com/",
            "00000003-0000-0000-C000-000000000000/b",
        ];
        for x in pieces {
            for y in pieces {
                for z in pieces {
                    let target = format!("{x} {y}\t{z}");
                    let expected = normalize(target.split_whitespace()).join(" ");
                    assert_eq!(TargetScopes::of(&target).text(&target), expected);
                }
            }
        }
        let copies = |t: &str| TargetScopes::of(t).0.is_some();
        for target in targets {
            let set = TargetScopes::of(target);
            let expected = normalize(target.split_whitespace());
            assert_eq!(set.text(target), expected.join(" "), "{target:?}");
            assert_eq!(items(set.text(target)).collect::<Vec<_>>(), expected);
            for wanted in [
                vec![],
                normalize(["a"]),
                normalize(["a", "c"]),
                normalize(["user.read"]),
            ] {
                assert_eq!(
                    is_subset_of_text(&wanted, set.text(target)),
                    is_subset(&wanted, &expected),
                    "{wanted:?} in {target:?}"
                );
            }
        }
        for shared in ["", "scope_1", "a b c", "api://x/read api://x/write"] {
            assert!(!copies(shared), "{shared:?}");
        }
        for copied in [
            "b a",
            "a a",
            "a  b",
            "User.Read",
            "https://graph.microsoft.com/.default",
        ] {
            assert!(copies(copied), "{copied:?}");
        }
        // Lists: normalized exactly when normalizing changes nothing (text that is not ASCII
        // is never taken as normalized: it is copied, which is always right).
        let lists: [&[&str]; 8] = [
            &[],
            &["a"],
            &["a", "b"],
            &["b", "a"],
            &["a", "a"],
            &["a b"],
            &["A"],
            &["é"],
        ];
        for list in lists {
            let same = normalize(list.iter().copied()) == list;
            let ascii = list.iter().all(|s| s.is_ascii());
            assert_eq!(
                is_normalized(list.iter().copied()),
                same && ascii,
                "{list:?}"
            );
        }
    }
}
