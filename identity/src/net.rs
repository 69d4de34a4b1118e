//! Who is the client: the one resolved source address that logs, rate limits, `aws:SourceIp`
//! and `$context.identity.sourceIp` all use, on both listeners.
//!
//! A request's `X-Forwarded-For`, `Forwarded` and `X-Real-IP` headers are written by whoever
//! sent it, so they are believed only when the TCP peer is a proxy the operator trusts
//! ([`TrustedProxies`], CIDRs; none by default), and only the one header those proxies write
//! ([`ForwardingHeader`], `X-Forwarded-For` by default), as nginx's `real_ip_header` and
//! Kong's do: a proxy appends to its own header and passes the others on as the client wrote
//! them, so reading whichever header is present would let a client name itself. Behind
//! trusted proxies the address chain is read from the right — the hop nearest to us first —
//! and the first address that is not itself a trusted proxy is the client, as nginx's
//! `real_ip_recursive` does: a client can prepend whatever it likes, but it cannot change
//! what the trusted proxies appended after it.
//!
//! This module only reads header values (the `http` crate's types, which every listener
//! shares); it knows no framework.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// Most proxy hops read from forwarding headers; a longer chain is cut at this many hops
/// (the client is then the farthest trusted hop reached).
const MAX_HOPS: usize = 32;

/// A set of networks whose peers may tell us the client's address, and the header they
/// tell it in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Cidr>,
    header: ForwardingHeader,
}

/// The forwarding header trusted proxies write the client's address into. Only this one is
/// read: the others reach us as the client sent them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, …` — what nginx (`$proxy_add_x_forwarded_for`),
    /// HAProxy, Envoy, Traefik and cloud load balancers append to.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
    /// `X-Real-IP: client` — one address, set (not appended) by the proxy.
    XRealIp,
}

/// One network: an address and a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, with the host bits cleared.
    network: IpAddr,
    prefix: u8,
}

/// A `trusted_proxies` entry that is not an IP address or CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted proxy `{0}` is not an IP address or CIDR (e.g. 10.0.0.0/8)")]
pub struct CidrError(pub String);

/// A `trusted_proxy_header` that is not one of the forwarding headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted proxy header `{0}` must be x-forwarded-for, forwarded or x-real-ip")]
pub struct ForwardingHeaderError(pub String);

// === impl ForwardingHeader ===

impl ForwardingHeader {
    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
        }
    }
}

impl FromStr for ForwardingHeader {
    type Err = ForwardingHeaderError;

    fn from_str(text: &str) -> Result<Self, ForwardingHeaderError> {
        let name = text.trim();
        [Self::XForwardedFor, Self::Forwarded, Self::XRealIp]
            .into_iter()
            .find(|header| header.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| ForwardingHeaderError(text.to_owned()))
    }
}

impl fmt::Display for ForwardingHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// === impl Cidr ===

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(text.to_owned());
        let trimmed = text.trim();
        let (addr, prefix) = match trimmed.split_once('/') {
            Some((addr, prefix)) => {
                // Digits only: `u8::from_str` would take `+8`.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?))
            }
            None => (trimmed, None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self {
            network: mask(addr, prefix),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `addr` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        let same_family = matches!(
            (addr, self.network),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && mask(addr, self.prefix) == self.network
    }
}

// === impl TrustedProxies ===

impl TrustedProxies {
    /// No proxy is trusted: the TCP peer is always the client (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses each entry as an address or CIDR; their header is `X-Forwarded-For` unless
    /// [`Self::with_header`] says otherwise.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, CidrError> {
        let networks = entries
            .iter()
            .map(|entry| entry.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self {
            networks,
            header: ForwardingHeader::default(),
        })
    }

    /// The same proxies, writing the client into `header`.
    #[must_use]
    pub fn with_header(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
    }

    /// The header the proxies write the client into.
    pub fn header(&self) -> ForwardingHeader {
        self.header
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `addr` is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(addr))
    }

    /// The networks, for display.
    pub fn networks(&self) -> &[Cidr] {
        &self.networks
    }

    /// The client's address for a request from `peer` with these `headers`.
    ///
    /// When `peer` is not trusted, it is the client, whatever the headers say. Otherwise the
    /// chain of the proxies' header ([`Self::header`]; every line of it, in order) is walked
    /// from the right past trusted hops; the first untrusted address is the client. An entry
    /// that is not an address (`unknown`, an obfuscated identifier, garbage) ends the walk at
    /// the trusted hop that passed it on, and so does a missing header.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarded_chain(self.header, headers);
        let mut client = peer;
        for hop in chain.iter().rev().take(MAX_HOPS) {
            let Some(addr) = hop else { break };
            client = canonical(*addr);
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// The addresses `header` lists over all its lines, left (farthest) to right (nearest);
/// `None` for an entry that is not an address.
fn forwarded_chain(header: ForwardingHeader, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let elements = headers
        .get_all(header.name())
        .iter()
        .flat_map(|value| split_list(value.as_bytes()));
    match header {
        ForwardingHeader::Forwarded => elements.map(forwarded_for).collect(),
        ForwardingHeader::XForwardedFor | ForwardingHeader::XRealIp => {
            elements.map(parse_node).collect()
        }
    }
}

/// The comma-separated elements of a header value, trimmed. A `Forwarded` element's quoted
/// string may contain a comma only in an IPv6 zone, which is never an address we accept, so
/// a plain split is enough here.
fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

/// The `for=` parameter of one `Forwarded` element (`for=192.0.2.60;proto=http`,
/// `for="[2001:db8::1]:4711"`).
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    element.split(|b| *b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|b| *b == b'=')?;
        let (name, value) = pair.split_at(eq);
        let value = value.get(1..)?;
        name.eq_ignore_ascii_case(b"for").then(|| {
            let unquoted = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            parse_node(unquoted)
        })?
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:443`.
fn parse_node(text: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(text).ok()?.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        if !(after.is_empty() || port(after.strip_prefix(':')?)) {
            return None;
        }
        return host.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (host, p) = text.rsplit_once(':')?;
    if !port(p) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports) as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// `check(trusted, peer, headers, expected client)`, the proxies writing the header the
    /// first pair names.
    fn check(trusted: &[&str], peer: &str, pairs: &[(&'static str, &str)], expected: &str) {
        let header = pairs
            .first()
            .and_then(|(name, _)| name.parse().ok())
            .unwrap_or_default();
        let proxies = TrustedProxies::parse(trusted).unwrap().with_header(header);
        assert_eq!(
            proxies.client_ip(ip(peer), &headers(pairs)),
            ip(expected),
            "trusted {trusted:?}, peer {peer}, headers {pairs:?}"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_headers_say() {
        check(
            &[],
            "203.0.113.9",
            &[("x-forwarded-for", "10.1.1.1")],
            "203.0.113.9",
        );
        check(
            &[],
            "203.0.113.9",
            &[("forwarded", "for=10.1.1.1")],
            "203.0.113.9",
        );
        check(
            &[],
            "203.0.113.9",
            &[("x-real-ip", "10.1.1.1")],
            "203.0.113.9",
        );
        check(
            &["10.0.0.0/8"],
            "203.0.113.9",
            &[("x-forwarded-for", "1.2.3.4")],
            "203.0.113.9",
        );
    }

    #[test]
    fn a_trusted_peer_names_the_client() {
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-forwarded-for", "198.51.100.7")],
            "198.51.100.7",
        );
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-real-ip", "198.51.100.7")],
            "198.51.100.7",
        );
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")],
            "2001:db8::7",
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_hops() {
        // The client prepended 1.1.1.1; the trusted proxies appended the real address after it.
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.3")],
            "198.51.100.7",
        );
        // Several header lines are one list, in order.
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "198.51.100.7, 10.0.0.3"),
            ],
            "198.51.100.7",
        );
        // Every hop trusted: the farthest one is the best we know.
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-forwarded-for", "10.9.9.9, 10.0.0.3")],
            "10.9.9.9",
        );
    }

    /// The proxy appends to one header; every other forwarding header arrives as the client
    /// wrote it, so only the configured one is read, whatever else the request carries.
    #[test]
    fn only_the_configured_header_is_read() {
        use ForwardingHeader::{Forwarded, XForwardedFor, XRealIp};
        for (rule, header, pairs, expected) in [
            (
                "a forged Forwarded beside the proxy's X-Forwarded-For",
                XForwardedFor,
                &[
                    ("forwarded", "for=10.9.9.9"),
                    ("x-forwarded-for", "198.51.100.7"),
                ][..],
                "198.51.100.7",
            ),
            (
                "a forged X-Real-IP beside the proxy's X-Forwarded-For",
                XForwardedFor,
                &[
                    ("x-real-ip", "10.9.9.9"),
                    ("x-forwarded-for", "198.51.100.7"),
                ][..],
                "198.51.100.7",
            ),
            (
                "a forged X-Forwarded-For beside the proxy's Forwarded",
                Forwarded,
                &[
                    ("x-forwarded-for", "10.9.9.9"),
                    ("forwarded", "for=198.51.100.7, for=10.0.0.3"),
                ][..],
                "198.51.100.7",
            ),
            (
                "a forged X-Forwarded-For beside the proxy's X-Real-IP",
                XRealIp,
                &[
                    ("x-forwarded-for", "10.9.9.9"),
                    ("x-real-ip", "198.51.100.7"),
                ][..],
                "198.51.100.7",
            ),
            (
                "the configured header missing: the proxy is the client",
                Forwarded,
                &[("x-forwarded-for", "198.51.100.7")][..],
                "10.0.0.2",
            ),
        ] {
            let proxies = TrustedProxies::parse(&["10.0.0.0/8"])
                .unwrap()
                .with_header(header);
            assert_eq!(
                proxies.client_ip(ip("10.0.0.2"), &headers(pairs)),
                ip(expected),
                "{rule}"
            );
        }
    }

    #[test]
    fn forwarding_header_names() {
        for (text, expected) in [
            ("x-forwarded-for", Some(ForwardingHeader::XForwardedFor)),
            ("X-Forwarded-For", Some(ForwardingHeader::XForwardedFor)),
            ("forwarded", Some(ForwardingHeader::Forwarded)),
            (" x-real-ip ", Some(ForwardingHeader::XRealIp)),
            ("x-client-ip", None),
            ("", None),
        ] {
            assert_eq!(text.parse::<ForwardingHeader>().ok(), expected, "{text}");
        }
        assert_eq!(
            TrustedProxies::none().header(),
            ForwardingHeader::XForwardedFor,
            "X-Forwarded-For by default"
        );
    }

    #[test]
    fn garbage_stops_at_the_trusted_hop_that_passed_it_on() {
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-forwarded-for", "198.51.100.7, not-an-ip")],
            "10.0.0.2",
        );
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("forwarded", "for=unknown")],
            "10.0.0.2",
        );
        check(
            &["10.0.0.0/8"],
            "10.0.0.2",
            &[("x-forwarded-for", "")],
            "10.0.0.2",
        );
    }

    #[test]
    fn node_forms_with_ports_and_brackets() {
        for (text, expected) in [
            ("192.0.2.1", Some("192.0.2.1")),
            ("192.0.2.1:8080", Some("192.0.2.1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[192.0.2.1]", None),
            ("192.0.2.1:", None),
            ("192.0.2.1:port", None),
            ("_hidden", None),
        ] {
            assert_eq!(parse_node(text.as_bytes()), expected.map(ip), "{text}");
        }
    }

    #[test]
    fn mapped_ipv6_peers_match_ipv4_networks() {
        check(
            &["127.0.0.1"],
            "::ffff:127.0.0.1",
            &[("x-forwarded-for", "198.51.100.7")],
            "198.51.100.7",
        );
    }

    #[test]
    fn cidr_parsing() {
        for (text, ok) in [
            ("10.0.0.0/8", true),
            ("10.1.2.3/8", true),
            ("127.0.0.1", true),
            ("::1/128", true),
            ("fd00::/8", true),
            ("0.0.0.0/0", true),
            ("10.0.0.0/33", false),
            ("::/129", false),
            ("10.0.0.0/", false),
            ("10.0.0.0/+8", false),
            ("localhost", false),
            ("", false),
        ] {
            assert_eq!(text.parse::<Cidr>().is_ok(), ok, "{text}");
        }
        let net: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains(ip("10.255.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::a01:203")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
    }
}
