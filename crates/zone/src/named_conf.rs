//! Reading the zone list of a BIND-style `named.conf`, as PowerDNS's bind
//! backend does.
