//! Who the client is: the forwarding header trusted proxies write (`X-Forwarded-For` unless
//! configured otherwise) is believed only from a trusted proxy, the others never, and the one
//! address resolved per request is what the backend, the
//! `context.identity.sourceIp` mapping and the access log see. Hop-by-hop headers a client
//! names in `Connection` are removed from its own headers only.

use gatehouse_gateway::server::ServiceConfig;
use gatehouse_identity::net::{ForwardingHeader, TrustedProxies};

use super::support::{Gateway, start_with, test_config};

/// What one request looked like from the backend and the access log.
#[derive(Debug, PartialEq)]
struct Seen {
    source_ip: String,
    forwarded_for: String,
    /// `Forwarded` and `X-Real-IP` as the backend got them (both must be gone).
    forwarded: Option<String>,
    real_ip: Option<String>,
}

async fn trusting(networks: &[&str]) -> Gateway {
    trusting_header(networks, ForwardingHeader::XForwardedFor).await
}

async fn trusting_header(networks: &[&str], header: ForwardingHeader) -> Gateway {
    start_with(ServiceConfig {
        trusted_proxies: TrustedProxies::parse(networks).unwrap().with_header(header),
        ..test_config()
    })
    .await
}

/// `check(gateway, rule, client headers, expected client, expected X-Forwarded-For)`.
async fn check(gw: &Gateway, rule: &str, headers: &[(&str, &str)], client: &str, xff: &str) {
    let before = gw.log.lines().len();
    let answer = gw.request("GET", "/prod/whoami", headers, "").await;
    assert_eq!(answer.status, 200, "{rule}");
    let echoed = &answer.json()["headers"];
    let text = |name: &str| echoed.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let seen = Seen {
        source_ip: text("x-source-ip").unwrap_or_default(),
        forwarded_for: text("x-forwarded-for").unwrap_or_default(),
        forwarded: text("forwarded"),
        real_ip: text("x-real-ip"),
    };
    let expected = Seen {
        source_ip: client.to_owned(),
        forwarded_for: xff.to_owned(),
        forwarded: None,
        real_ip: None,
    };
    assert_eq!(seen, expected, "{rule}");
    let lines = gw.log_lines(before + 1).await;
    let logged: serde_json::Value = serde_json::from_str(&lines[before]).unwrap();
    assert_eq!(logged["ip"], client, "{rule}: the access log's sourceIp");
}

const SPOOFED: &[(&str, &str)] = &[
    ("x-forwarded-for", "203.0.113.7"),
    ("forwarded", "for=198.51.100.1;proto=https"),
    ("x-real-ip", "198.51.100.2"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_the_peer_is_the_client() {
    let gw = start_with(test_config()).await;
    check(&gw, "no forwarding headers", &[], "127.0.0.1", "127.0.0.1").await;
    check(
        &gw,
        "forwarding headers of a client are replaced, never appended to",
        SPOOFED,
        "127.0.0.1",
        "127.0.0.1",
    )
    .await;
    // A trusted list without the peer changes nothing.
    let gw = trusting(&["10.0.0.0/8"]).await;
    check(&gw, "untrusted peer", SPOOFED, "127.0.0.1", "127.0.0.1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_chain_names_the_client() {
    // The test client connects from 127.0.0.1: here that is the trusted proxy.
    let gw = trusting(&["127.0.0.0/8", "10.0.0.0/8"]).await;
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            "the address the proxy appended, not what the client prepended",
            &[("x-forwarded-for", "1.1.1.1, 198.51.100.7")],
            "198.51.100.7",
            "198.51.100.7, 127.0.0.1",
        ),
        (
            "read from the right past trusted hops",
            &[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.3")],
            "198.51.100.7",
            "198.51.100.7, 127.0.0.1",
        ),
        (
            "a Forwarded the proxy did not write is not read, and is removed",
            &[
                ("forwarded", "for=192.0.2.60;proto=https"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
            "198.51.100.7",
            "198.51.100.7, 127.0.0.1",
        ),
        (
            "an X-Real-IP the proxy did not write is not read, and is removed",
            &[("x-real-ip", "198.51.100.9")],
            "127.0.0.1",
            "127.0.0.1",
        ),
        (
            "no forwarding header: the proxy itself",
            &[],
            "127.0.0.1",
            "127.0.0.1",
        ),
        (
            "garbage stops at the proxy that passed it on",
            &[("x-forwarded-for", "198.51.100.7, not-an-address")],
            "127.0.0.1",
            "127.0.0.1",
        ),
    ];
    for (rule, headers, client, xff) in cases {
        check(&gw, rule, headers, client, xff).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_writing_forwarded_or_x_real_ip_are_read_there_only() {
    let gw = trusting_header(&["127.0.0.0/8"], ForwardingHeader::Forwarded).await;
    check(
        &gw,
        "Forwarded, read from the right",
        &[
            ("x-forwarded-for", "10.9.9.9"),
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https",
            ),
        ],
        "2001:db8::7",
        "2001:db8::7, 127.0.0.1",
    )
    .await;
    let gw = trusting_header(&["127.0.0.0/8"], ForwardingHeader::XRealIp).await;
    check(
        &gw,
        "X-Real-IP",
        &[
            ("x-forwarded-for", "10.9.9.9"),
            ("x-real-ip", "198.51.100.9"),
        ],
        "198.51.100.9",
        "198.51.100.9, 127.0.0.1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_names_only_the_clients_own_headers() {
    let gw = start_with(test_config()).await;
    let answer = gw
        .request(
            "GET",
            "/prod/items/42",
            &[
                (
                    "connection",
                    "x-secret, x-item, x-forwarded-for, x-forwarded-proto",
                ),
                ("x-secret", "hop"),
                ("x-kept", "end-to-end"),
                ("x-forwarded-for", "203.0.113.7"),
            ],
            "",
        )
        .await;
    assert_eq!(answer.status, 200);
    let headers = &answer.json()["headers"];
    assert!(headers.get("x-secret").is_none(), "named by the client");
    assert_eq!(headers["x-kept"], "end-to-end");
    // What the gateway adds is not the client's to remove.
    assert_eq!(headers["x-item"], "42", "a mapped header");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
}

/// Headers a backend reads as the gateway's word cannot come from the client under another
/// spelling: `X-Forwarded-Host` when the request carries no `Host` to replace it with (or
/// names `host` in `Connection`), and underscore spellings that CGI and WSGI servers
/// (`HTTP_X_FORWARDED_FOR`) and some frameworks read as the dashed name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_headers_cannot_be_spelt_by_the_client() {
    let gw = start_with(test_config()).await;
    let answer = gw
        .request(
            "GET",
            "/prod/whoami",
            &[
                ("connection", "host"),
                ("x-forwarded-host", "evil.example"),
                ("x_forwarded_host", "evil.example"),
                ("x_forwarded_for", "10.9.9.9"),
                ("X_Real_IP", "10.9.9.9"),
                ("x-forwarded_proto", "https"),
                ("x_gatehouse_claims", "forged"),
                ("x-gatehouse_principal-id", "admin"),
                ("x_kept", "an underscore header of the client's own"),
            ],
            "",
        )
        .await;
    assert_eq!(answer.status, 200);
    let headers = answer.json()["headers"].as_object().unwrap().clone();
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    for forged in [
        "x_forwarded_host",
        "x_forwarded_for",
        "x_real_ip",
        "x-forwarded_proto",
        "x_gatehouse_claims",
        "x-gatehouse_principal-id",
    ] {
        assert!(
            !names.contains(&forged),
            "{forged} reached the backend: {names:?}"
        );
    }
    assert_ne!(
        headers.get("x-forwarded-host").and_then(|v| v.as_str()),
        Some("evil.example"),
        "{headers:?}"
    );
    assert_eq!(
        headers["x-forwarded-host"],
        gw.addr.to_string(),
        "the Host routing used"
    );
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        headers["x_kept"],
        "an underscore header of the client's own"
    );
}
