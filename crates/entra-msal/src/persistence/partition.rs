//! Cache partitions, as Microsoft.Identity.Web's "suggested cache keys" (pure): app tokens are
//! partitioned by client and tenant, user tokens by home account. A distributed cache such as
//! [`RedisTokenCache`](crate::persistence) keeps one serialized cache per partition, so an
//! instance reads only the partition an operation needs.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The section every partition carries (it is tiny and shared by all of them).
const SHARED: &str = "AppMetadata";

/// The partition of app tokens (client credentials) of `client_id` in `tenant`:
/// `<client_id>_<tenant>_AppTokenCache`, MSAL.NET's and Microsoft.Identity.Web's key.
pub fn app_partition(client_id: &str, tenant: &str) -> String {
    // One exact-size allocation, without the formatting machinery: this runs on every
    // client-credential call, persistence or not.
    const SUFFIX: &str = "_AppTokenCache";
    let mut out = String::with_capacity(client_id.len() + 1 + tenant.len() + SUFFIX.len());
    out.push_str(client_id);
    out.push('_');
    out.push_str(tenant);
    out.push_str(SUFFIX);
    out
}

/// The partition of a user's tokens: the home account id (`<oid>.<tid>`).
pub fn user_partition(home_account_id: &str) -> String {
    home_account_id.to_string()
}

/// The partition an entity of `section` belongs to: its home account when it has one, else
/// (access tokens from client credentials) its client and tenant. `None` for the shared
/// `AppMetadata` and for entities that belong to no partition (kept in memory only).
pub fn entity_partition(section: &str, entity: &Value) -> Option<String> {
    if section == SHARED {
        return None;
    }
    let field = |name: &str| entity.get(name).and_then(Value::as_str).unwrap_or("");
    let home = field("home_account_id");
    if !home.is_empty() {
        return Some(user_partition(home));
    }
    let (client, realm) = (field("client_id"), field("realm"));
    (section == "AccessToken" && !client.is_empty() && !realm.is_empty())
        .then(|| app_partition(client, realm))
}

/// The partitions that have entities in `doc` (a serialized cache).
pub fn partitions(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(doc) = doc.as_object() {
        for (section, entries) in doc {
            for entity in entries.as_object().into_iter().flat_map(Map::values) {
                out.extend(entity_partition(section, entity));
            }
        }
    }
    out
}

/// The part of `doc` in `partition`, plus the shared `AppMetadata`; sections stay objects.
pub fn filter(doc: &Value, partition: &str) -> Value {
    let mut out = Map::new();
    for (section, entries) in doc.as_object().into_iter().flatten() {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        let kept: Map<String, Value> = entries
            .iter()
            .filter(|(_, e)| {
                section == SHARED || entity_partition(section, e).as_deref() == Some(partition)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(section.clone(), Value::Object(kept));
        }
    }
    Value::Object(out)
}

/// Whether `doc` holds any entity besides the shared `AppMetadata`.
pub fn has_tokens(doc: &Value) -> bool {
    doc.as_object()
        .into_iter()
        .flatten()
        .any(|(section, entries)| {
            section != SHARED && entries.as_object().is_some_and(|e| !e.is_empty())
        })
}

/// `doc` with its `partition` part replaced by `part` (other partitions and unknown sections
/// untouched; `AppMetadata` entries of `part` are added).
pub fn replace(doc: &Value, partition: &str, part: &Value) -> Value {
    let mut out = doc.as_object().cloned().unwrap_or_default();
    for (section, entries) in out.iter_mut() {
        if section == SHARED {
            continue;
        }
        if let Some(entries) = entries.as_object_mut() {
            entries.retain(|_, e| entity_partition(section, e).as_deref() != Some(partition));
        }
    }
    for (section, entries) in part.as_object().into_iter().flatten() {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        let target = out
            .entry(section.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(target) = target.as_object_mut() {
            for (k, v) in entries {
                target.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A three-way merge of serialized caches, entry by entry: `theirs` (the stored data now) plus
/// what this process changed since `base` (the stored data it last saw) to get `ours`: entries
/// added or changed in `ours` win, entries removed from `base` are removed, everything else
/// is `theirs`. Concurrent writers lose nothing but each other's removals of an entry the
/// other rewrote.
pub fn merge(base: &Value, ours: &Value, theirs: &Value) -> Value {
    let empty = Map::new();
    let obj = |v: &'_ Value| v.as_object().cloned().unwrap_or_default();
    let (base, ours) = (base.as_object().unwrap_or(&empty), obj(ours));
    let mut out = obj(theirs);
    let sections: BTreeSet<&String> = base.keys().chain(ours.keys()).collect();
    for section in sections {
        let (b, o) = (base.get(section), ours.get(section));
        let (b_obj, o_obj) = (b.and_then(Value::as_object), o.and_then(Value::as_object));
        match (b_obj.is_some() || o_obj.is_some(), b_obj, o_obj) {
            (true, b, o) => {
                let b = b.unwrap_or(&empty);
                let o = o.unwrap_or(&empty);
                let target = out
                    .entry(section.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !target.is_object() {
                    *target = Value::Object(Map::new());
                }
                let target = target.as_object_mut().expect("made an object");
                for (k, v) in o {
                    if b.get(k) != Some(v) {
                        target.insert(k.clone(), v.clone());
                    }
                }
                for k in b.keys() {
                    if !o.contains_key(k) {
                        target.remove(k);
                    }
                }
            }
            _ => {
                // Not entity sections: ours when it changed, else theirs.
                if b != o {
                    match o {
                        Some(v) => {
                            out.insert(section.clone(), v.clone());
                        }
                        None => {
                            out.remove(section);
                        }
                    }
                }
            }
        }
    }
    Value::Object(out)
}

/// Seconds a stored partition should live from `now`: until its latest access-token expiry
/// (`expires_on`, or `extended_expires_on` when later), and at least `refresh_token_lifetime`
/// seconds when it holds a refresh token; never below 60 s.
pub fn time_to_live(doc: &Value, now: i64, refresh_token_lifetime: u64) -> u64 {
    let number = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    let mut until = now;
    let section = |name: &str| doc.get(name).and_then(Value::as_object);
    for at in section("AccessToken").into_iter().flat_map(Map::values) {
        for field in ["expires_on", "extended_expires_on"] {
            if let Some(t) = number(at.get(field)) {
                until = until.max(t);
            }
        }
    }
    let mut ttl = u64::try_from(until - now).unwrap_or(0);
    if section("RefreshToken").is_some_and(|rts| !rts.is_empty()) {
        ttl = ttl.max(refresh_token_lifetime);
    }
    ttl.max(60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "AccessToken": {
                "app-a": {"client_id": "c", "realm": "t1", "home_account_id": "", "expires_on": "2000"},
                "app-b": {"client_id": "c", "realm": "t2", "expires_on": "1500"},
                "user": {"client_id": "c", "realm": "t1", "home_account_id": "u.t1", "expires_on": "1200"},
            },
            "RefreshToken": {"rt": {"home_account_id": "u.t1", "secret": "r"}},
            "Account": {"acc": {"home_account_id": "u.t1"}},
            "AppMetadata": {"appmetadata-x-c": {"client_id": "c"}},
        })
    }

    #[test]
    fn keys_follow_identity_web() {
        assert_eq!(app_partition("c", "t1"), "c_t1_AppTokenCache");
        let p = partitions(&doc());
        let expected: BTreeSet<String> = ["c_t1_AppTokenCache", "c_t2_AppTokenCache", "u.t1"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(p, expected);
        let user = filter(&doc(), "u.t1");
        assert_eq!(user["AccessToken"].as_object().unwrap().len(), 1);
        assert!(user["RefreshToken"]["rt"].is_object());
        assert!(user["AppMetadata"]["appmetadata-x-c"].is_object());
        assert!(has_tokens(&user));
        assert!(!has_tokens(&json!({"AppMetadata": {"x": {}}})));
    }

    #[test]
    fn replace_swaps_one_partition_only() {
        let part = json!({"AccessToken": {"app-a2": {"client_id": "c", "realm": "t1"}}});
        let out = replace(&doc(), "c_t1_AppTokenCache", &part);
        let ats = out["AccessToken"].as_object().unwrap();
        assert!(ats.contains_key("app-a2") && !ats.contains_key("app-a"));
        assert!(ats.contains_key("app-b") && ats.contains_key("user"));
    }

    #[test]
    fn merge_keeps_concurrent_additions_and_own_removals() {
        let base = json!({"AccessToken": {"a": {"v": 1}, "gone": {"v": 0}}});
        let ours = json!({"AccessToken": {"a": {"v": 2}, "mine": {"v": 3}}});
        let theirs = json!({"AccessToken": {"a": {"v": 1}, "gone": {"v": 0}, "theirs": {"v": 4}}, "Extra": 1});
        let m = merge(&base, &ours, &theirs);
        assert_eq!(
            m,
            json!({"AccessToken": {"a": {"v": 2}, "mine": {"v": 3}, "theirs": {"v": 4}}, "Extra": 1})
        );
        // Nothing changed locally: theirs as is.
        assert_eq!(merge(&base, &base, &theirs), theirs);
        // Nothing stored yet.
        assert_eq!(merge(&json!({}), &ours, &json!({})), ours);
    }

    #[test]
    fn ttl_follows_the_tokens() {
        let app = filter(&doc(), "c_t1_AppTokenCache");
        assert_eq!(time_to_live(&app, 1000, 90 * 86400), 1000);
        let user = filter(&doc(), "u.t1");
        assert_eq!(time_to_live(&user, 1000, 90 * 86400), 90 * 86400);
        assert_eq!(
            time_to_live(&app, 5000, 90 * 86400),
            60,
            "expired: the floor"
        );
    }
}
