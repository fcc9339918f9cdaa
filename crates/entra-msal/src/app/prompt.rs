//! [`Prompt`]: the `prompt` values of an interactive sign-in.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// What the sign-in page asks of the user (`prompt` in the authorization request; MSAL Python's
/// `msal.Prompt` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Prompt {
    /// `none`: no interaction at all; the request fails with `interaction_required` when the
    /// user would have to act.
    None,
    /// `login`: the user enters their credentials again, even with a session.
    Login,
    /// `consent`: the consent page is shown even when consent was given.
    Consent,
    /// `select_account`: the account picker is shown.
    SelectAccount,
    /// `create`: the sign-up page (External ID / B2C self-service sign-up).
    Create,
}

impl Prompt {
    /// The wire value (`none`, `login`, `consent`, `select_account`, `create`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Login => "login",
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
            Self::Create => "create",
        }
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Prompt {
    type Err = Error;

    /// Parses a wire value; anything else is an [`Error::Configuration`].
    fn from_str(value: &str) -> Result<Self, Error> {
        [
            Self::None,
            Self::Login,
            Self::Consent,
            Self::SelectAccount,
            Self::Create,
        ]
        .into_iter()
        .find(|p| p.as_str() == value)
        .ok_or_else(|| {
            Error::configuration(format!(
                "unknown prompt {value:?}: use none, login, consent, select_account or create"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip_and_unknown_values_are_refused() {
        for p in [
            Prompt::None,
            Prompt::Login,
            Prompt::Consent,
            Prompt::SelectAccount,
            Prompt::Create,
        ] {
            assert_eq!(p.as_str().parse::<Prompt>().unwrap(), p);
            assert_eq!(p.to_string(), p.as_str());
        }
        assert!(matches!(
            "Login".parse::<Prompt>(),
            Err(Error::Configuration { .. })
        ));
    }
}
