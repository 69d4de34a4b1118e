//! CIDR blocks for `IpAddress` / `NotIpAddress` (IPv4 and IPv6; a bare address is /32 or /128).

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Self { net, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            // An IPv4 client seen through a dual-stack socket.
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cidr: &str, ip: &str, expected: bool) {
        let c = Cidr::parse(cidr).unwrap();
        assert_eq!(c.contains(ip.parse().unwrap()), expected, "{cidr} {ip}");
    }

    #[test]
    fn blocks() {
        check("203.0.113.0/24", "203.0.113.7", true);
        check("203.0.113.0/24", "203.0.114.7", false);
        check("203.0.113.7", "203.0.113.7", true);
        check("203.0.113.7", "203.0.113.8", false);
        check("0.0.0.0/0", "8.8.8.8", true);
        check("10.1.2.3/8", "10.200.0.1", true);
        check("2001:db8::/32", "2001:db8:1::1", true);
        check("2001:db8::/32", "2001:db9::1", false);
        check("::/0", "::1", true);
        check("2001:db8::1", "2001:db8::1", true);
        check("203.0.113.0/24", "::ffff:203.0.113.9", true);
        check("2001:db8::/32", "203.0.113.9", false);
        for bad in [
            "",
            "1.2.3.4/33",
            "1.2.3/24",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/a",
            "x",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }
}
