//! TLS to PostgreSQL: `sslmode=require|verify-ca|verify-full` in the database URL, against a
//! PostgreSQL cluster this test starts (beside the one `scripts/postgres` runs) with
//! `ssl=on`, a certificate made by the test and a `pg_hba.conf` that refuses connections
//! without TLS. The cluster is stopped at the end, also when an assertion fails.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse_storage::testkit::POSTGRES_URL_VAR;
use gatehouse_storage::{Backend, Store, StoreOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use sqlx::Connection as _;

/// A PostgreSQL cluster with `ssl=on`, stopped when dropped.
struct TlsCluster {
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The PostgreSQL programs `scripts/postgres` installed.
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("no PostgreSQL under /usr/lib/postgresql: run ./scripts/test or scripts/postgres")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a PostgreSQL program as the cluster's owner (`postgres` when we are root: initdb
/// refuses to run as root).
fn as_owner(program: &Path, args: &[&str]) {
    let status = if running_as_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .status()
    } else {
        Command::new(program).args(args).status()
    }
    .unwrap();
    assert!(status.success(), "{} {args:?} failed", program.display());
}

impl TlsCluster {
    /// Starts a cluster presenting `cert_pem`/`key_pem`, accepting only TLS on 127.0.0.1.
    fn start(cert_pem: &str, key_pem: &str) -> Self {
        let bindir = bindir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let root = running_as_root();
        if root {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success());
        }
        let data_text = data.display().to_string();
        as_owner(
            &bindir.join("initdb"),
            &[
                "-D",
                &data_text,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        if root {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key"))
                .arg(data.join("pg_hba.conf"))
                .status()
                .unwrap();
            assert!(owned.success());
        }
        let private = Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status()
            .unwrap();
        assert!(private.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c ssl=on -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("server.log").display().to_string();
        as_owner(
            &bindir.join("pg_ctl"),
            &[
                "-D", &data_text, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
            ],
        );
        Self {
            bindir,
            data,
            port,
            _dir: dir,
        }
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        as_owner(
            &self.bindir.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
        );
    }
}

#[tokio::test]
async fn sslmode_require_verify_ca_and_verify_full_are_honoured() {
    // Only where the PostgreSQL half of the suite runs (scripts/test installs the server).
    if std::env::var(POSTGRES_URL_VAR).is_err() {
        panic!(
            "{POSTGRES_URL_VAR} is not set, so this PostgreSQL test cannot run: run ./scripts/test, or eval \"$(scripts/postgres)\" and rerun"
        );
    }
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "storage test ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let cluster = TlsCluster::start(&server.pem(), &server_key.serialize_pem());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let root = format!("sslrootcert={}", ca_file.display());

    struct Case {
        rule: &'static str,
        host: &'static str,
        query: String,
        /// `None`: opens; `Some(text)`: refused, the error containing `text`.
        refused: Option<&'static str>,
    }
    let cases = [
        Case {
            rule: "require encrypts without checking the certificate",
            host: "127.0.0.1",
            query: "sslmode=require".to_owned(),
            refused: None,
        },
        Case {
            rule: "verify-full accepts the test CA's certificate for the host",
            host: "127.0.0.1",
            query: format!("sslmode=verify-full&{root}"),
            refused: None,
        },
        Case {
            rule: "verify-ca accepts the test CA's certificate under another name",
            host: "localhost",
            query: format!("sslmode=verify-ca&{root}"),
            refused: None,
        },
        Case {
            rule: "verify-full refuses a certificate for another name",
            host: "localhost",
            query: format!("sslmode=verify-full&{root}"),
            refused: Some("not valid for name \"localhost\""),
        },
        Case {
            rule: "verify-ca refuses an issuer outside the roots",
            host: "127.0.0.1",
            query: "sslmode=verify-ca".to_owned(),
            refused: Some("UnknownIssuer"),
        },
        Case {
            rule: "the server refuses a connection without TLS",
            host: "127.0.0.1",
            query: "sslmode=disable".to_owned(),
            refused: Some("no encryption"),
        },
    ];
    for case in &cases {
        let url = cluster.url(case.host, &case.query);
        let opened = Store::open(&url, StoreOptions::default()).await;
        match (&opened, case.refused) {
            (Ok(store), None) => {
                assert_eq!(store.backend(), Backend::Postgres, "{}", case.rule);
                store.close().await;
                // The session is really TLS.
                let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
                let ssl: bool =
                    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                        .fetch_one(&mut connection)
                        .await
                        .unwrap();
                assert!(ssl, "{}", case.rule);
                connection.close().await.unwrap();
            }
            (Err(err), Some(text)) => {
                assert!(err.to_string().contains(text), "{}: {err}", case.rule);
            }
            (Ok(_), Some(_)) => panic!("{}: opened", case.rule),
            (Err(err), None) => panic!("{}: {err}", case.rule),
        }
    }
}
