//! The gateway over TLS and HTTP/2: what the backend and the mappings learn about the
//! client's connection follows the real one — `X-Forwarded-Proto` (`https` over TLS) and
//! `$context.protocol` (`HTTP/1.1` or `HTTP/2.0`) — whichever of the four ways a client comes.

use gatehouse_gateway::server::{ServerTls, ServiceConfig, TlsFiles};
use http::StatusCode;
use tokio::net::TcpStream;

use super::support::{start_full, test_config};
use crate::certs::TestCa;
use crate::edge_tls::{get_request, h1_get, h2_client, h2_request, tls_connect};

const PROTOCOL_ROUTE: &str = r#"
      /proto:
        GET:
          integration:
            type: http_proxy
            uri: "http://${stageVariables.backend}/echo"
            request_parameters:
              header.x-protocol: context.protocol
"#;

#[tokio::test]
async fn forwarded_proto_and_context_protocol_follow_the_connection() {
    let ca = TestCa::new("gateway test ca");
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key) = ca.server(&["127.0.0.1"]).write(dir.path(), "gateway");
    let tls = ServerTls::load(TlsFiles { certificate, key }).unwrap();
    let plain = start_full(test_config(), None, PROTOCOL_ROUTE).await;
    let secure = start_full(
        ServiceConfig {
            tls: Some(tls),
            ..test_config()
        },
        None,
        PROTOCOL_ROUTE,
    )
    .await;
    struct Case {
        rule: &'static str,
        tls: bool,
        http2: bool,
        proto: &'static str,
        protocol: &'static str,
    }
    let cases = [
        Case {
            rule: "plain HTTP/1.1",
            tls: false,
            http2: false,
            proto: "http",
            protocol: "HTTP/1.1",
        },
        Case {
            rule: "prior-knowledge HTTP/2",
            tls: false,
            http2: true,
            proto: "http",
            protocol: "HTTP/2.0",
        },
        Case {
            rule: "HTTP/1.1 over TLS",
            tls: true,
            http2: false,
            proto: "https",
            protocol: "HTTP/1.1",
        },
        Case {
            rule: "HTTP/2 over TLS (ALPN)",
            tls: true,
            http2: true,
            proto: "https",
            protocol: "HTTP/2.0",
        },
    ];
    for case in cases {
        let addr = if case.tls { secure.addr } else { plain.addr };
        let path = "/prod/proto";
        let (status, body) = match (case.tls, case.http2) {
            (false, false) => h1_get(TcpStream::connect(addr).await.unwrap(), path).await,
            (false, true) => {
                let (mut sender, _c) = h2_client(TcpStream::connect(addr).await.unwrap()).await;
                h2_request(&mut sender, get_request("http", addr, path)).await
            }
            (true, false) => {
                h1_get(
                    tls_connect(addr, ca.client_config(&[b"http/1.1"])).await,
                    path,
                )
                .await
            }
            (true, true) => {
                let stream = tls_connect(addr, ca.client_config(&[b"h2"])).await;
                let (mut sender, _c) = h2_client(stream).await;
                h2_request(&mut sender, get_request("https", addr, path)).await
            }
        };
        assert_eq!(status, StatusCode::OK, "{}: {body}", case.rule);
        let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
        let headers = &echo["headers"];
        assert_eq!(headers["x-forwarded-proto"], case.proto, "{}", case.rule);
        assert_eq!(headers["x-protocol"], case.protocol, "{}", case.rule);
        // From `Host` (HTTP/1.1) or `:authority` (HTTP/2).
        let forwarded_host = headers["x-forwarded-host"].as_str().unwrap_or_default();
        assert!(
            forwarded_host.starts_with("127.0.0.1"),
            "{}: {headers}",
            case.rule
        );
    }
}
