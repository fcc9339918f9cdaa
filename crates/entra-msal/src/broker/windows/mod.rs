//! The Windows broker: the Web Account Manager (WAM) through WinRT.
