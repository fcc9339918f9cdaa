//! One file per command.

pub mod accounts;
pub mod decode;
pub mod doctor;
pub mod login;
pub mod token;
