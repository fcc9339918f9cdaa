//! The Linux broker: the Microsoft identity broker (`com.microsoft.identity.broker1`) on the
//! session D-Bus.
