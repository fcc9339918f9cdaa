//! Authorities: parsing and classification, tenant and instance discovery, aliases, regional hosts.
