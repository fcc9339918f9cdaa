//! The `claims` request parameter: a claims challenge deep-merged with client capabilities
//! (`{"access_token":{"xms_cc":{"values":[...]}}}`).

use serde_json::{Map, Value, json};

use crate::error::Error;

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The `claims` value to send: the capabilities and the challenge merged (the challenge wins on
/// conflicts), or `None` when both are empty.
pub fn merged(capabilities: &[String], challenge: Option<&str>) -> Result<Option<String>, Error> {
    if capabilities.is_empty() && challenge.is_none_or(|c| c.trim().is_empty()) {
        return Ok(None);
    }
    let mut out = Map::new();
    if !capabilities.is_empty() {
        out = json!({"access_token": {"xms_cc": {"values": capabilities}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
    }
    if let Some(challenge) = challenge.filter(|c| !c.trim().is_empty()) {
        let parsed: Map<String, Value> = serde_json::from_str(challenge).map_err(|e| {
            Error::configuration_caused(
                format!("the claims challenge is not a JSON object: {e}"),
                e,
            )
        })?;
        merge(&mut out, &parsed);
    }
    Ok((!out.is_empty()).then(|| Value::Object(out).to_string()))
}

/// Parses a claims value the caller supplied as a JSON object; `what` names it in the error
/// (the value itself is never shown: it may hold sensitive data).
fn parse_object(value: &str, what: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::configuration(format!(
            "{what} is not a JSON object (OpenID Connect claims parameter)"
        ))),
        Err(e) => Err(Error::configuration_caused(
            format!("{what} is not valid JSON: {e}"),
            e,
        )),
    }
}

/// Forwarded client claims (MSAL Python's `forwarded_client_claims`): claims the caller
/// originates, deep-merged into the request's `claims` parameter (they win on conflicts), and
/// keying the cached token by their value (see [`ext_cache_key`](Self::ext_cache_key)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forwarded<'a>(Option<&'a str>);

impl<'a> Forwarded<'a> {
    /// Validates the forwarded claims now (a JSON object), before any cache lookup.
    pub fn new(value: Option<&'a str>) -> Result<Self, Error> {
        if let Some(v) = value {
            parse_object(v, "forwarded_client_claims")?;
        }
        Ok(Self(value))
    }

    /// The `claims` parameter to send: `base` (capabilities and challenge) with the forwarded
    /// claims merged in.
    pub fn merge_into(&self, base: Option<String>) -> Result<Option<String>, Error> {
        let Some(forwarded) = self.0 else {
            return Ok(base);
        };
        let Some(base) = base.filter(|b| !b.is_empty()) else {
            return Ok(Some(forwarded.to_string()));
        };
        let mut out = parse_object(&base, "the claims parameter")?;
        merge(
            &mut out,
            &parse_object(forwarded, "forwarded_client_claims")?,
        );
        Ok(Some(Value::Object(out).to_string()))
    }

    /// The extended cache key of the forwarded claims, if any (with `extra` parameters that
    /// also key the entry).
    pub fn ext_cache_key(
        &self,
        extra: &std::collections::BTreeMap<String, String>,
    ) -> Option<String> {
        match self.0 {
            None => crate::cache::ext_cache_key(extra),
            Some(forwarded) => {
                let mut params = extra.clone();
                params.insert(CLIENT_CLAIMS_KEY.into(), forwarded.to_string());
                crate::cache::ext_cache_key(&params)
            }
        }
    }
}

/// The cache-key-only pseudo-parameter that holds forwarded client claims (MSAL Python's
/// `client_claims` entry of `data`): it keys the cache entry and is never sent as such.
const CLIENT_CLAIMS_KEY: &str = "client_claims";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_and_challenge_merge() {
        assert_eq!(merged(&[], None).unwrap(), None);
        assert_eq!(
            merged(&["CP1".into()], None).unwrap().unwrap(),
            r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#
        );
        let m = merged(
            &["CP1".into()],
            Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#),
        )
        .unwrap()
        .unwrap();
        let v: Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["access_token"]["xms_cc"]["values"][0], "CP1");
        assert_eq!(v["access_token"]["nbf"]["value"], "1");
        assert!(merged(&[], Some("not json")).is_err());
    }

    #[test]
    fn forwarded_claims_merge_last_and_key_the_cache() {
        let none = Forwarded::new(None).unwrap();
        assert_eq!(none.merge_into(Some("{}".into())).unwrap().unwrap(), "{}");
        assert_eq!(none.ext_cache_key(&Default::default()), None);
        let fwd = r#"{"access_token":{"xms_cc":{"values":["cp2"]},"x":{"essential":true}}}"#;
        let forwarded = Forwarded::new(Some(fwd)).unwrap();
        assert_eq!(forwarded.merge_into(None).unwrap().unwrap(), fwd);
        let base = merged(&["CP1".into()], Some(r#"{"id_token":{"y":null}}"#)).unwrap();
        let m: Value = serde_json::from_str(&forwarded.merge_into(base).unwrap().unwrap()).unwrap();
        assert_eq!(m["access_token"]["xms_cc"]["values"][0], "cp2");
        assert_eq!(m["access_token"]["x"]["essential"], true);
        assert!(m["id_token"].get("y").is_some());
        // The key is MSAL Python's hash of {"client_claims": value}.
        let params =
            std::collections::BTreeMap::from([("client_claims".to_string(), fwd.to_string())]);
        assert_eq!(
            forwarded.ext_cache_key(&Default::default()),
            crate::cache::ext_cache_key(&params)
        );
        for bad in ["", "[1]", "not json"] {
            let e = Forwarded::new(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("forwarded_client_claims"), "{e}");
        }
    }
}
