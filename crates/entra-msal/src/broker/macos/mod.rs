//! The macOS broker: the Microsoft Enterprise SSO extension (Company Portal) through
//! AuthenticationServices.
