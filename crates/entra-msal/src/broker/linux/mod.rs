//! The Linux broker: the Microsoft identity broker (`com.microsoft.identity.broker1`) on the
//! session D-Bus. [`codec`] builds and reads the JSON exactly as Microsoft's own client does;
//! `dbus` (feature `broker`, Linux only) moves it over the bus with zbus, without libdbus.

#![cfg_attr(not(all(feature = "broker", target_os = "linux")), allow(dead_code))]

pub mod codec;
#[cfg(all(feature = "broker", target_os = "linux"))]
mod dbus;

#[cfg(all(feature = "broker", target_os = "linux"))]
pub use dbus::LinuxBroker;
