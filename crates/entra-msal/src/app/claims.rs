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
}
