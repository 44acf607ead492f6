//! Who a request comes from: the TCP peer, unless the peer is a proxy the
//! operator trusts (`--trusted-proxies`), in which case the address that
//! proxy forwarded (`Forwarded: for=`, else `X-Forwarded-For`). Read from
//! the right, as each proxy appends what it saw: the first address that is
//! not a trusted proxy is the client. Anyone may send those headers, so
//! they count only from a trusted peer; behind a load balancer every client
//! would otherwise share its address (and its rate limit).

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};
use ipnet::IpNet;

/// The client address of a request, as the accept loop resolved it
/// (unspecified if it did not: a request made in process).
pub fn client_address(request: &axum::extract::Request) -> IpAddr {
    request
        .extensions()
        .get::<ClientAddress>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ClientAddress(client)| *client)
}

/// The proxies whose forwarded addresses are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// A request's client address, as resolved once by the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl TrustedProxies {
    /// These networks (single addresses are /32 or /128).
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// Whether `address` is a trusted proxy.
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers);
        let chain = if forwarded.is_empty() {
            x_forwarded_for(headers)
        } else {
            forwarded
        };
        // Right to left: past every trusted proxy, the first one that is not.
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            match hop {
                Some(address) if self.trusts(address) => client = address,
                Some(address) => return address,
                // A hop we cannot read: whoever sent it is the last we know.
                None => return client,
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The `for=` of every `Forwarded` element, in order (RFC 7239).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| node(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// Every address of `X-Forwarded-For`, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| node(hop.trim()))
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:80`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`, `2001:db8::1`.
fn node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
        .map(canonical)
}

/// Parses `--trusted-proxies`: addresses or networks, comma-separated.
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("{item:?} is not an address or a network (such as 10.0.0.0/8)")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(text: &str) -> TrustedProxies {
        TrustedProxies::new(parse_networks(text).unwrap())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn from(peer: &str) -> SocketAddr {
        SocketAddr::new(peer.parse().unwrap(), 40_000)
    }

    const CLIENT: &str = "203.0.113.7";

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1")]);
        let none = proxies("");
        assert_eq!(
            none.client(from(CLIENT), &forwarded),
            CLIENT.parse::<IpAddr>().unwrap(),
            "anyone can send the header"
        );
        let proxy = proxies("10.0.0.0/8");
        assert_eq!(
            proxy.client(from("10.0.0.2"), &forwarded),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_proxies() {
        let proxy = proxies("10.0.0.2, 10.0.0.3");
        // The client forged the first hop; the trusted proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.3")]);
        assert_eq!(
            proxy.client(from("10.0.0.2"), &chain),
            CLIENT.parse::<IpAddr>().unwrap()
        );
        // Two header lines are one list.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            proxy.client(from("10.0.0.2"), &split),
            CLIENT.parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for() {
        let proxy = proxies("10.0.0.2");
        let both = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.2",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            proxy.client(from("10.0.0.2"), &both),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn garbage_or_nothing_forwarded_leaves_the_last_known_hop() {
        let proxy = proxies("10.0.0.2");
        for junk in ["unknown", "", "999.1.1.1", "_hidden"] {
            assert_eq!(
                proxy.client(from("10.0.0.2"), &headers(&[("x-forwarded-for", junk)])),
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "{junk:?}"
            );
        }
        assert_eq!(
            proxy.client(from("10.0.0.2"), &HeaderMap::new()),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let proxy = proxies("127.0.0.1");
        assert!(proxy.trusts("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_networks_are_refused_in_words() {
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(
            parse_networks("proxy.internal")
                .unwrap_err()
                .contains("proxy.internal")
        );
        assert_eq!(parse_networks("10.0.0.1, ::1").unwrap().len(), 2);
    }
}
