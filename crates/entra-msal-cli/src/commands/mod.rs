//! One file per command.

pub mod accounts;
pub mod config;
pub mod decode;
pub mod doctor;
pub mod kubeconfig;
pub mod login;
pub mod ssh_cert;
pub mod status;
pub mod token;
