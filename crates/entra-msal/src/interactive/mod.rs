//! Interactive sign-in without a broker: the system browser and the loopback redirect listener.
