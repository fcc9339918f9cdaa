//! Which managed identity to use: system-assigned, or one user-assigned identity named by its
//! client id, ARM resource id or object id.

use serde_json::Value;

use crate::error::Error;

/// How a user-assigned managed identity is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserAssignedId {
    /// The identity's client (application) id.
    ClientId(String),
    /// The identity's ARM resource id
    /// (`/subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…`).
    ResourceId(String),
    /// The identity's object (principal) id.
    ObjectId(String),
}

impl UserAssignedId {
    /// The id itself.
    pub fn value(&self) -> &str {
        match self {
            Self::ClientId(v) | Self::ResourceId(v) | Self::ObjectId(v) => v,
        }
    }

    /// MSAL's name for the kind of id (`ClientId`, `ResourceId`, `ObjectId`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientId(_) => "ClientId",
            Self::ResourceId(_) => "ResourceId",
            Self::ObjectId(_) => "ObjectId",
        }
    }
}

/// The managed identity a [`ManagedIdentityClient`](crate::app::ManagedIdentityClient) acquires
/// tokens for (MSAL Python's `SystemAssignedManagedIdentity` / `UserAssignedManagedIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManagedIdentity {
    /// The identity Azure assigned to the resource (VM, App Service, …) itself.
    SystemAssigned,
    /// A user-assigned identity attached to the resource.
    UserAssigned(UserAssignedId),
}

/// The cache's client id for a system-assigned identity, as MSAL Python writes it.
pub(crate) const SYSTEM_ASSIGNED_CACHE_ID: &str = "SYSTEM_ASSIGNED_MANAGED_IDENTITY";

impl ManagedIdentity {
    /// A user-assigned identity by client id.
    pub fn client_id(id: impl Into<String>) -> Self {
        Self::UserAssigned(UserAssignedId::ClientId(id.into()))
    }

    /// A user-assigned identity by ARM resource id.
    pub fn resource_id(id: impl Into<String>) -> Self {
        Self::UserAssigned(UserAssignedId::ResourceId(id.into()))
    }

    /// A user-assigned identity by object id.
    pub fn object_id(id: impl Into<String>) -> Self {
        Self::UserAssigned(UserAssignedId::ObjectId(id.into()))
    }

    /// Reads MSAL Python's configuration shape, e.g. from an environment variable:
    /// `{"ManagedIdentityIdType": "SystemAssigned", "Id": null}` or
    /// `{"ManagedIdentityIdType": "ClientId" | "ResourceId" | "ObjectId", "Id": "…"}`.
    ///
    /// ```
    /// use entra_msal::managed_identity::ManagedIdentity;
    /// let mi = ManagedIdentity::from_json(r#"{"ManagedIdentityIdType": "ClientId", "Id": "0d8b…"}"#)?;
    /// assert_eq!(mi, ManagedIdentity::client_id("0d8b…"));
    /// # Ok::<(), entra_msal::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let bad = |what: &str| {
            Error::configuration(format!(
                "the managed identity configuration is not valid: {what}; expected \
                 {{\"ManagedIdentityIdType\": \"SystemAssigned\" | \"ClientId\" | \"ResourceId\" \
                 | \"ObjectId\", \"Id\": …}}"
            ))
        };
        let value: Value = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
        let kind = value
            .get("ManagedIdentityIdType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("ManagedIdentityIdType is missing"))?;
        let id = value.get("Id").and_then(Value::as_str).map(str::to_string);
        let mi = match (kind, id) {
            ("SystemAssigned", _) => Self::SystemAssigned,
            ("ClientId", Some(id)) => Self::client_id(id),
            ("ResourceId", Some(id)) => Self::resource_id(id),
            ("ObjectId", Some(id)) => Self::object_id(id),
            ("ClientId" | "ResourceId" | "ObjectId", None) => {
                return Err(bad("Id must be a string for a user-assigned identity"));
            }
            (other, _) => return Err(bad(&format!("unknown ManagedIdentityIdType {other:?}"))),
        };
        mi.validate()?;
        Ok(mi)
    }

    /// Refuses an empty user-assigned id.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Self::UserAssigned(id) = self
            && id.value().trim().is_empty()
        {
            return Err(Error::configuration(format!(
                "the user-assigned managed identity's {} is empty; pass the identity's id, or use \
                 ManagedIdentity::SystemAssigned",
                id.kind()
            )));
        }
        Ok(())
    }

    /// The user-assigned id, if any.
    pub fn user_assigned(&self) -> Option<&UserAssignedId> {
        match self {
            Self::SystemAssigned => None,
            Self::UserAssigned(id) => Some(id),
        }
    }

    /// The `client_id` the token cache files this identity's tokens under (MSAL Python: the
    /// user-assigned id, or `SYSTEM_ASSIGNED_MANAGED_IDENTITY`).
    pub fn cache_client_id(&self) -> &str {
        match self {
            Self::SystemAssigned => SYSTEM_ASSIGNED_CACHE_ID,
            Self::UserAssigned(id) => id.value(),
        }
    }

    /// The query parameter naming the identity, with the given spelling of the resource-id
    /// parameter (`msi_res_id` for IMDS, Machine Learning and Arc, `mi_res_id` for App Service).
    pub(crate) fn query_param(
        &self,
        resource_id_name: &'static str,
    ) -> Option<(&'static str, &str)> {
        self.user_assigned().map(|id| match id {
            UserAssignedId::ClientId(v) => ("client_id", v.as_str()),
            UserAssignedId::ResourceId(v) => (resource_id_name, v.as_str()),
            UserAssignedId::ObjectId(v) => ("object_id", v.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_configuration_round_trips_msal_python_shapes() {
        assert_eq!(
            ManagedIdentity::from_json(
                r#"{"ManagedIdentityIdType": "SystemAssigned", "Id": null}"#
            )
            .unwrap(),
            ManagedIdentity::SystemAssigned
        );
        assert_eq!(
            ManagedIdentity::from_json(r#"{"ManagedIdentityIdType": "ObjectId", "Id": "o"}"#)
                .unwrap(),
            ManagedIdentity::object_id("o")
        );
        for bad in [
            r#"{"ManagedIdentityIdType": "ClientId"}"#,
            r#"{"ManagedIdentityIdType": "ClientId", "Id": " "}"#,
            r#"{"ManagedIdentityIdType": "Nope", "Id": "x"}"#,
            "not json",
        ] {
            assert!(matches!(
                ManagedIdentity::from_json(bad),
                Err(Error::Configuration { .. })
            ));
        }
    }

    #[test]
    fn cache_ids_and_parameter_spellings() {
        assert_eq!(
            ManagedIdentity::SystemAssigned.cache_client_id(),
            "SYSTEM_ASSIGNED_MANAGED_IDENTITY"
        );
        assert_eq!(
            ManagedIdentity::resource_id("/r").query_param("mi_res_id"),
            Some(("mi_res_id", "/r"))
        );
        assert_eq!(
            ManagedIdentity::client_id("c").query_param("msi_res_id"),
            Some(("client_id", "c"))
        );
        assert_eq!(
            ManagedIdentity::SystemAssigned.query_param("msi_res_id"),
            None
        );
    }
}
