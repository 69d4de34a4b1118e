//! Configuration of `gatehouse serve`: a documented TOML file, `GATEHOUSE_*` environment
//! variables and command-line flags (flag > env > file > default), validated once into a
//! [`Config`] that the rest of the program trusts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_gateway::server::{MAX_WORKERS, TlsFiles};
use gatehouse_identity::functions::{FunctionArn, FunctionSpec, FunctionsError, SigningSecret};
use gatehouse_identity::net::TrustedProxies;
use gatehouse_identity::rate_limit::SourceRateLimit;
use serde::Deserialize;

use crate::cli::ServeArgs;

/// The default identity/admin listener.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8000";
/// The default API gateway listener.
pub(crate) const DEFAULT_GATEWAY_LISTEN: &str = "127.0.0.1:8080";
/// The default Prometheus metrics listener: loopback only, as exporters do.
pub(crate) const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// The default cap on open client connections per public listener.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default time in-flight requests get to finish once a stop is asked for.
pub(crate) const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
/// Longest accepted grace period (an hour: longer is surely a typo).
const MAX_SHUTDOWN_GRACE_SECS: u64 = 3600;
/// The default data folder, relative to the working directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "gatehouse-data";
pub(crate) const DEFAULT_REGION: &str = "us-east-1";
pub(crate) const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Config files are small; anything larger is a mistake (or not a config file).
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Validated settings of a running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Where the identity and operator API listens.
    pub(crate) listen: SocketAddr,
    /// Where the API gateway (the data plane) listens.
    pub(crate) gateway_listen: SocketAddr,
    /// The identity listener's certificate and key; `None`: plain HTTP.
    pub(crate) tls: Option<TlsFiles>,
    /// The gateway listener's certificate and key; `None`: plain HTTP.
    pub(crate) gateway_tls: Option<TlsFiles>,
    /// Where `/metrics` is served; `None` turns it off. Never a public listener.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Client connections each public listener keeps open at once.
    pub(crate) max_connections: usize,
    /// How long in-flight requests get to finish once a stop is asked for.
    pub(crate) shutdown_grace: std::time::Duration,
    /// Threads of the runtime serving the identity listener and the background work
    /// (1..=`MAX_WORKERS`).
    pub(crate) workers: usize,
    /// Threads serving the gateway listener (1..=`MAX_WORKERS`).
    pub(crate) gateway_workers: usize,
    /// The gateway's account-wide throttle, (requests per second, burst); `None`: off.
    pub(crate) gateway_account_limit: Option<(u32, u32)>,
    /// API definitions the gateway serves (empty: every request gets API Gateway's 403).
    pub(crate) apis: Vec<PathBuf>,
    /// Holds the SQLite database (by default), the generated operator credentials and master
    /// key, and the development outbox.
    pub(crate) data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub(crate) database_url: String,
    /// Base of every issuer URL (`{public_url}/{userPoolId}`), without a trailing slash;
    /// `None` means `http://{the address as bound}` (`https://` when the identity listener has
    /// TLS; known only once the listener is bound).
    pub(crate) public_url: Option<String>,
    /// `--dynamodb-upstream` and the credentials requests to it are signed with.
    pub(crate) dynamodb_upstream: Option<DynamoDbUpstream>,
    /// Extra root certificates (DER) for OpenID Connect issuers, from `--oidc-ca-file`.
    pub(crate) oidc_roots: Vec<Vec<u8>>,
    /// The first region of `--region`: where pools are made without a signed region.
    pub(crate) region: String,
    /// The other regions of `--region` (`us-east-1,eu-west-1`): operator requests signed
    /// for any of them act there, so one gatehouse stands in for several AWS regions.
    pub(crate) other_regions: Vec<String>,
    pub(crate) account_id: String,
    /// How confirmation codes reach users.
    pub(crate) delivery: Delivery,
    pub(crate) argon2: Argon2Settings,
    /// `GATEHOUSE_OPERATOR_ACCESS_KEY_ID` / `…_SECRET_ACCESS_KEY`; `None` means generate once
    /// into the data folder.
    pub(crate) operator: Option<OperatorKeys>,
    /// `GATEHOUSE_MASTER_KEY` (`id:base64`, or several comma-separated, newest first); `None`
    /// means generate once into the data folder.
    pub(crate) master_key: Option<Secret>,
    /// Peers whose forwarding headers name the client; empty: the TCP peer is the client.
    pub(crate) trusted_proxies: TrustedProxies,
    /// The limit per client address on the unauthenticated Cognito operations.
    pub(crate) source_rate_limit: SourceRateLimit,
    /// Functions of the configuration: the file's `[[functions]]`, then `--function` /
    /// `GATEHOUSE_FUNCTIONS`, which replace a file entry of the same ARN. Checked.
    pub(crate) functions: Vec<FunctionConfig>,
    /// `GATEHOUSE_FUNCTION_SECRET`: the secret of functions without one of their own; `None`
    /// means generate once into the data folder (when some function needs it).
    pub(crate) function_secret: Option<Secret>,
}

/// A function of the configuration (ARN, URL and time limit already checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionConfig {
    pub(crate) arn: String,
    pub(crate) url: String,
    pub(crate) timeout_ms: Option<u64>,
    /// Its own secret (`secret` or `secret_file` in the file); `None`: the shared one.
    pub(crate) secret: Option<Secret>,
}

/// Operator credentials given in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperatorKeys {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Secret,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// One JSON file per message in this folder: the development default, read by tests.
    Outbox(PathBuf),
    /// An SMTP server, e.g. `smtp://user:pass@mail.example.com:587` or `smtps://…`.
    Smtp(String),
}

/// argon2id cost parameters for password hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Argon2Settings {
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's recommended argon2id minimum: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The TOML file, as documented in the README. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    gateway_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    gateway_tls_cert: Option<PathBuf>,
    gateway_tls_key: Option<PathBuf>,
    metrics_listen: Option<String>,
    max_connections: Option<usize>,
    shutdown_grace_seconds: Option<u64>,
    workers: Option<usize>,
    gateway_workers: Option<usize>,
    gateway_account_rate_limit: Option<u32>,
    gateway_account_burst: Option<u32>,
    #[serde(default)]
    apis: Vec<PathBuf>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    dynamodb_upstream: Option<String>,
    oidc_ca_file: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    smtp_url: Option<String>,
    argon2: Option<Argon2Settings>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    rate_limit: Option<RateLimitFile>,
    trusted_proxy_header: Option<String>,
    #[serde(default)]
    functions: Vec<FileFunction>,
}

/// `[[functions]]`: one Lambda function ARN served by an HTTP endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFunction {
    arn: String,
    url: String,
    /// Milliseconds; default 5000.
    timeout_ms: Option<u64>,
    /// The signing secret; or `secret_file`, a file holding it (relative to the config
    /// file); neither: the shared secret.
    secret: Option<String>,
    secret_file: Option<PathBuf>,
}

/// The DynamoDB upstream and its credentials (from the environment, never the file).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DynamoDbUpstream {
    pub(crate) url: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
}

impl std::fmt::Debug for DynamoDbUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbUpstream")
            .field("url", &self.url)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// `[rate_limit]`: the limit per client address on the unauthenticated operations.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    per_second: Option<u32>,
    burst: Option<u32>,
}

/// Largest `per_second` and `burst` accepted (a larger number is surely a typo).
const MAX_RATE_LIMIT: u32 = 1_000_000;

/// A configuration that cannot be used; the binary prints it on one line and exits 64.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file `{}` is larger than {MAX_CONFIG_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("config file `{}`: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("listen address `{0}` is not HOST:PORT with an IP address")]
    Listen(String),
    #[error("metrics listen address `{0}` is not HOST:PORT with an IP address, or `none`")]
    MetricsListen(String),
    #[error("shutdown grace `{0}` must be a number of seconds from 0 to {MAX_SHUTDOWN_GRACE_SECS}")]
    ShutdownGrace(String),
    #[error("set GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE, not both")]
    MasterKeyTwice,
    #[error("max connections `{0}` must be a number from 1 to 1000000")]
    MaxConnections(String),
    #[error("the metrics listener cannot share `{0}` with another listener")]
    MetricsSameListener(SocketAddr),
    #[error("workers `{0}` must be a number from 1 to {MAX_WORKERS}")]
    Workers(String),
    #[error("gateway workers `{0}` must be a number from 1 to {MAX_WORKERS}")]
    GatewayWorkers(String),
    #[error("gateway account {what} `{value}` must be a number from {min} to {MAX_RATE_LIMIT}")]
    AccountLimit {
        what: &'static str,
        value: String,
        min: u32,
    },
    #[error("a gateway account burst needs a gateway account rate limit")]
    AccountBurstAlone,
    #[error("set both {0}, or neither")]
    TlsHalf(&'static str),
    #[error("the identity and gateway listeners cannot share `{0}`")]
    SameListener(SocketAddr),
    #[error("database url `{0}` must start with sqlite:// or postgres://")]
    DatabaseUrl(String),
    #[error("public url `{0}` must be an http:// or https:// URL without query or fragment")]
    PublicUrl(String),
    #[error("dynamodb upstream `{0}` must be an http:// or https:// URL without query or fragment")]
    DynamoDbUpstream(String),
    #[error(
        "--dynamodb-upstream needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
    )]
    DynamoDbCredentials,
    #[error("oidc ca file `{}`: {message}", path.display())]
    OidcCaFile { path: PathBuf, message: String },
    #[error("region `{0}` does not look like an AWS region (e.g. us-east-1)")]
    Region(String),
    #[error("account id `{0}` must be 12 digits")]
    AccountId(String),
    #[error("smtp url `{0}` must start with smtp:// or smtps://")]
    SmtpUrl(String),
    #[error(transparent)]
    TrustedProxy(#[from] gatehouse_identity::net::CidrError),
    #[error("rate limit {what} `{value}` must be a number from {min} to {MAX_RATE_LIMIT}")]
    RateLimit {
        what: &'static str,
        value: String,
        min: u32,
    },
    #[error(transparent)]
    TrustedProxyHeader(#[from] gatehouse_identity::net::ForwardingHeaderError),
    #[error("argon2 settings out of range: {0}")]
    Argon2(&'static str),
    #[error(
        "set both GATEHOUSE_OPERATOR_ACCESS_KEY_ID and GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY, or neither"
    )]
    OperatorHalf,
    #[error("operator access key id must be 16 to 128 letters and digits")]
    OperatorKeyId,
    #[error("operator secret access key must be 16 to 128 printable characters")]
    OperatorSecret,
    #[error("--function `{0}` must be ARN=URL")]
    FunctionFlag(String),
    #[error("function `{0}` is defined twice in {1}")]
    FunctionTwice(String, &'static str),
    #[error("function `{0}`: set `secret` or `secret_file`, not both")]
    FunctionSecretTwice(String),
    #[error("GATEHOUSE_FUNCTION_SECRET: {0}")]
    FunctionSecret(FunctionsError),
    #[error(transparent)]
    Function(#[from] FunctionsError),
}

impl Config {
    /// Merges flags (which clap already merged with `GATEHOUSE_*` variables) over the file named
    /// by `--config`, over the defaults, and validates the result.
    pub(crate) fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen_text = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| ConfigError::Listen(listen_text.clone()))?;
        let gateway_text = args
            .gateway_listen
            .clone()
            .or(file.gateway_listen)
            .unwrap_or_else(|| DEFAULT_GATEWAY_LISTEN.to_owned());
        let gateway_listen: SocketAddr = gateway_text
            .parse()
            .map_err(|_| ConfigError::Listen(gateway_text.clone()))?;
        if gateway_listen == listen && listen.port() != 0 {
            return Err(ConfigError::SameListener(listen));
        }
        let metrics_text = args
            .metrics_listen
            .clone()
            .or(file.metrics_listen)
            .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_owned());
        let metrics_listen = if metrics_text.trim() == "none" {
            None
        } else {
            let addr: SocketAddr = metrics_text
                .parse()
                .map_err(|_| ConfigError::MetricsListen(metrics_text.clone()))?;
            if addr.port() != 0 && (addr == listen || addr == gateway_listen) {
                return Err(ConfigError::MetricsSameListener(addr));
            }
            Some(addr)
        };
        let max_connections = match (&args.max_connections, file.max_connections) {
            (Some(text), _) => text
                .trim()
                .parse::<usize>()
                .map_err(|_| ConfigError::MaxConnections(text.clone()))?,
            (None, Some(n)) => n,
            (None, None) => DEFAULT_MAX_CONNECTIONS,
        };
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(ConfigError::MaxConnections(max_connections.to_string()));
        }
        let grace_secs = match (&args.shutdown_grace, file.shutdown_grace_seconds) {
            (Some(text), _) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| ConfigError::ShutdownGrace(text.clone()))?,
            (None, Some(n)) => n,
            (None, None) => DEFAULT_SHUTDOWN_GRACE_SECS,
        };
        if grace_secs > MAX_SHUTDOWN_GRACE_SECS {
            return Err(ConfigError::ShutdownGrace(grace_secs.to_string()));
        }
        let shutdown_grace = std::time::Duration::from_secs(grace_secs);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = thread_count(args.workers.as_deref(), file.workers, cpus)
            .map_err(ConfigError::Workers)?;
        let gateway_workers =
            thread_count(args.gateway_workers.as_deref(), file.gateway_workers, cpus)
                .map_err(ConfigError::GatewayWorkers)?;
        let gateway_account_limit = account_limit(
            args.gateway_account_rate_limit.as_deref(),
            file.gateway_account_rate_limit,
            args.gateway_account_burst.as_deref(),
            file.gateway_account_burst,
        )?;
        // Relative paths in the file are relative to the file, as a person reading it expects.
        let file_dir = args
            .config
            .as_ref()
            .and_then(|path| path.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let tls = tls_files(
            "--tls-cert and --tls-key",
            args.tls_cert
                .clone()
                .or(file.tls_cert.map(|p| file_dir.join(p))),
            args.tls_key
                .clone()
                .or(file.tls_key.map(|p| file_dir.join(p))),
        )?;
        let gateway_tls = tls_files(
            "--gateway-tls-cert and --gateway-tls-key",
            args.gateway_tls_cert
                .clone()
                .or(file.gateway_tls_cert.map(|p| file_dir.join(p))),
            args.gateway_tls_key
                .clone()
                .or(file.gateway_tls_key.map(|p| file_dir.join(p))),
        )?;
        let apis = if args.apis.is_empty() {
            file.apis.iter().map(|api| file_dir.join(api)).collect()
        } else {
            args.apis.clone()
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gatehouse.db").display()));
        if !(database_url.starts_with("sqlite://")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::DatabaseUrl(redact_url(&database_url)));
        }
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .map(|url| validate_public_url(&url))
            .transpose()?;
        let dynamodb_upstream = match args.dynamodb_upstream.clone().or(file.dynamodb_upstream) {
            None => None,
            Some(url) => {
                let url = validate_public_url(&url)
                    .map_err(|_| ConfigError::DynamoDbUpstream(redact_url(&url)))?;
                let (Some(access_key_id), Some(secret_access_key)) = (
                    env_var("AWS_ACCESS_KEY_ID"),
                    env_var("AWS_SECRET_ACCESS_KEY"),
                ) else {
                    return Err(ConfigError::DynamoDbCredentials);
                };
                Some(DynamoDbUpstream {
                    url,
                    access_key_id,
                    secret_access_key,
                    session_token: env_var("AWS_SESSION_TOKEN"),
                })
            }
        };
        let oidc_roots = match args
            .oidc_ca_file
            .clone()
            .or(file.oidc_ca_file.map(|p| file_dir.join(p)))
        {
            None => Vec::new(),
            Some(path) => {
                let bytes = std::fs::read(&path).map_err(|e| ConfigError::OidcCaFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                gatehouse_identity::https::roots_from_pem(&bytes)
                    .map_err(|message| ConfigError::OidcCaFile { path, message })?
            }
        };
        let regions = args
            .region
            .clone()
            .or(file.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let mut other_regions: Vec<String> = Vec::new();
        for region in regions.split(',').map(str::trim) {
            if !is_region(region) {
                return Err(ConfigError::Region(region.to_owned()));
            }
            if !other_regions.iter().any(|r| r == region) {
                other_regions.push(region.to_owned());
            }
        }
        let region = other_regions.remove(0);
        let account_id = args
            .account_id
            .clone()
            .or(file.account_id)
            .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::AccountId(account_id));
        }
        let delivery = match args.smtp_url.clone().or(file.smtp_url) {
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                Delivery::Smtp(url)
            }
            Some(url) => return Err(ConfigError::SmtpUrl(redact_url(&url))),
            None => Delivery::Outbox(data_dir.join("outbox")),
        };
        let argon2 = file.argon2.unwrap_or_default();
        validate_argon2(argon2)?;
        let operator = operator_from_env(
            env_var("GATEHOUSE_OPERATOR_ACCESS_KEY_ID"),
            env_var("GATEHOUSE_OPERATOR_SECRET_ACCESS_KEY"),
        )?;
        let master_key = match (
            env_var("GATEHOUSE_MASTER_KEY"),
            env_var("GATEHOUSE_MASTER_KEY_FILE"),
        ) {
            (Some(_), Some(_)) => return Err(ConfigError::MasterKeyTwice),
            (Some(key), None) => Some(Secret(key)),
            // A container secret (`/run/secrets/…`): the key stays out of the environment.
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path, source })?;
                Some(Secret(text.trim().to_owned()))
            }
            (None, None) => None,
        };
        let trusted_proxies = if args.trusted_proxies.is_empty() {
            TrustedProxies::parse(&file.trusted_proxies)?
        } else {
            TrustedProxies::parse(&args.trusted_proxies)?
        };
        let file_limit = file.rate_limit.unwrap_or_default();
        let defaults = SourceRateLimit::default();
        let per_second = rate_limit_value(
            "per second",
            args.rate_limit_per_second.as_deref(),
            file_limit.per_second,
            defaults.per_second,
            0,
        )?;
        let burst = rate_limit_value(
            "burst",
            args.rate_limit_burst.as_deref(),
            file_limit.burst,
            defaults.burst,
            1,
        )?;
        let trusted_proxies = match args
            .trusted_proxy_header
            .as_deref()
            .or(file.trusted_proxy_header.as_deref())
        {
            Some(name) => trusted_proxies.with_header(name.parse()?),
            None => trusted_proxies,
        };
        let functions = functions(&args.functions, file.functions, &file_dir)?;
        let function_secret = match env_var("GATEHOUSE_FUNCTION_SECRET") {
            Some(text) => {
                SigningSecret::new(&text).map_err(ConfigError::FunctionSecret)?;
                Some(Secret(text))
            }
            None => None,
        };
        Ok(Self {
            listen,
            gateway_listen,
            tls,
            gateway_tls,
            metrics_listen,
            max_connections,
            shutdown_grace,
            workers,
            gateway_workers,
            gateway_account_limit,
            apis,
            data_dir,
            database_url,
            public_url,
            dynamodb_upstream,
            oidc_roots,
            region,
            other_regions,
            account_id,
            delivery,
            argon2,
            operator,
            master_key,
            trusted_proxies,
            source_rate_limit: SourceRateLimit { per_second, burst },
            functions,
            function_secret,
        })
    }
}

/// The configuration's functions: the file's entries, then the flags' (or
/// `GATEHOUSE_FUNCTIONS`'), which replace a file entry of the same ARN (`:$LATEST` aside).
/// Each is checked as the registry would check it; an ARN twice in one place is refused.
fn functions(
    flags: &[String],
    file: Vec<FileFunction>,
    file_dir: &Path,
) -> Result<Vec<FunctionConfig>, ConfigError> {
    let mut by_key: Vec<(String, FunctionConfig)> = Vec::new();
    for entry in file {
        let secret = match (entry.secret, entry.secret_file) {
            (Some(_), Some(_)) => return Err(ConfigError::FunctionSecretTwice(entry.arn)),
            (Some(text), None) => Some(text),
            (None, Some(path)) => {
                let path = file_dir.join(path);
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path, source })?;
                Some(text.trim().to_owned())
            }
            (None, None) => None,
        };
        let function = checked(entry.arn, entry.url, entry.timeout_ms, secret)?;
        let key = key_of(&function.arn)?;
        if by_key.iter().any(|(k, _)| *k == key) {
            return Err(ConfigError::FunctionTwice(key, "the config file"));
        }
        by_key.push((key, function));
    }
    let mut from_flags: Vec<String> = Vec::new();
    for flag in flags.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        let Some((arn, url)) = flag.split_once('=') else {
            // The text may be a URL with a token in it: name only what precedes any `?`.
            let shown = flag.split('?').next().unwrap_or_default();
            return Err(ConfigError::FunctionFlag(shown.to_owned()));
        };
        let function = checked(arn.trim().to_owned(), url.trim().to_owned(), None, None)?;
        let key = key_of(&function.arn)?;
        if from_flags.contains(&key) {
            return Err(ConfigError::FunctionTwice(
                key,
                "--function / GATEHOUSE_FUNCTIONS",
            ));
        }
        from_flags.push(key.clone());
        by_key.retain(|(k, _)| *k != key);
        by_key.push((key, function));
    }
    Ok(by_key.into_iter().map(|(_, f)| f).collect())
}

/// A function checked as the registry checks it (its own secret too, never named).
fn checked(
    arn: String,
    url: String,
    timeout_ms: Option<u64>,
    secret: Option<String>,
) -> Result<FunctionConfig, ConfigError> {
    let signing = match &secret {
        Some(text) => SigningSecret::new(text)?,
        None => SigningSecret::generate(),
    };
    FunctionSpec::new(&arn, &url, timeout_ms, signing)?;
    Ok(FunctionConfig {
        arn,
        url,
        timeout_ms,
        secret: secret.map(Secret),
    })
}

fn key_of(arn: &str) -> Result<String, ConfigError> {
    FunctionArn::parse(arn).map(|a| a.key()).map_err(|reason| {
        ConfigError::Function(FunctionsError::InvalidArn {
            arn: arn.to_owned(),
            reason,
        })
    })
}

/// One number of the rate limit: the flag (or its `GATEHOUSE_*` variable), else the file,
/// else the default; `min..=MAX_RATE_LIMIT`.
fn rate_limit_value(
    what: &'static str,
    flag: Option<&str>,
    file: Option<u32>,
    default: u32,
    min: u32,
) -> Result<u32, ConfigError> {
    let bad = |value: String| ConfigError::RateLimit { what, value, min };
    let value = match (flag, file) {
        (Some(text), _) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| bad(text.to_owned()))?,
        (None, Some(n)) => n,
        (None, None) => default,
    };
    if !(min..=MAX_RATE_LIMIT).contains(&value) {
        return Err(bad(value.to_string()));
    }
    Ok(value)
}

/// A number of threads: the flag (or its `GATEHOUSE_*` variable), else the file, else the
/// number of CPUs (`cpus`, capped at `MAX_WORKERS`: a bigger machine still starts). A number
/// that was asked for must be in 1..=`MAX_WORKERS`; the error carries the refused text.
fn thread_count(flag: Option<&str>, file: Option<usize>, cpus: usize) -> Result<usize, String> {
    let count = match (flag, file) {
        (Some(text), _) => text.trim().parse::<usize>().map_err(|_| text.to_owned())?,
        (None, Some(n)) => n,
        (None, None) => return Ok(cpus.clamp(1, MAX_WORKERS)),
    };
    if !(1..=MAX_WORKERS).contains(&count) {
        return Err(count.to_string());
    }
    Ok(count)
}

/// The gateway's account-wide throttle: off unless a rate is set (flag or its `GATEHOUSE_*`
/// variable, else the file); a rate of 0 turns it off; the burst defaults to one second of
/// the rate.
fn account_limit(
    rate_flag: Option<&str>,
    rate_file: Option<u32>,
    burst_flag: Option<&str>,
    burst_file: Option<u32>,
) -> Result<Option<(u32, u32)>, ConfigError> {
    let number = |what: &'static str, min: u32, flag: Option<&str>, file: Option<u32>| {
        let bad = |value: String| ConfigError::AccountLimit { what, value, min };
        let value = match (flag, file) {
            (Some(text), _) => Some(
                text.trim()
                    .parse::<u32>()
                    .map_err(|_| bad(text.to_owned()))?,
            ),
            (None, file) => file,
        };
        match value {
            Some(n) if !(min..=MAX_RATE_LIMIT).contains(&n) => Err(bad(n.to_string())),
            other => Ok(other),
        }
    };
    let rate = number("rate limit", 0, rate_flag, rate_file)?;
    let burst = number("burst", 1, burst_flag, burst_file)?;
    match (rate, burst) {
        (None, Some(_)) => Err(ConfigError::AccountBurstAlone),
        (None | Some(0), _) => Ok(None),
        (Some(rate), burst) => Ok(Some((rate, burst.unwrap_or(rate)))),
    }
}

impl Config {
    /// The issuer base: the configured public URL, else `http://` and the listen address as
    /// bound (a command that does not listen passes the configured one).
    pub(crate) fn public_url_for(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"))
    }
}

/// A listener's certificate and key: both or neither.
fn tls_files(
    which: &'static str,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<TlsFiles>, ConfigError> {
    match (certificate, key) {
        (Some(certificate), Some(key)) => Ok(Some(TlsFiles { certificate, key })),
        (None, None) => Ok(None),
        _ => Err(ConfigError::TlsHalf(which)),
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn operator_from_env(
    key_id: Option<String>,
    secret: Option<String>,
) -> Result<Option<OperatorKeys>, ConfigError> {
    match (key_id, secret) {
        (None, None) => Ok(None),
        (Some(access_key_id), Some(secret)) => {
            if !(16..=128).contains(&access_key_id.len())
                || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(ConfigError::OperatorKeyId);
            }
            if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(ConfigError::OperatorSecret);
            }
            Ok(Some(OperatorKeys {
                access_key_id,
                secret_access_key: Secret(secret),
            }))
        }
        _ => Err(ConfigError::OperatorHalf),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    toml::from_str(&text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        // toml's messages span several lines (with a source excerpt); keep the config error
        // on one line as the binary promises.
        message: err.message().replace('\n', " "),
    })
}

fn validate_public_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::PublicUrl(url.to_owned())),
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`…: lowercase words and a number.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn validate_argon2(settings: Argon2Settings) -> Result<(), ConfigError> {
    if !(8..=4 * 1024 * 1024).contains(&settings.memory_kib) {
        return Err(ConfigError::Argon2("memory_kib must be 8..=4194304"));
    }
    if !(1..=64).contains(&settings.iterations) {
        return Err(ConfigError::Argon2("iterations must be 1..=64"));
    }
    if !(1..=64).contains(&settings.parallelism) {
        return Err(ConfigError::Argon2("parallelism must be 1..=64"));
    }
    if settings.memory_kib < 8 * settings.parallelism {
        return Err(ConfigError::Argon2(
            "memory_kib must be at least 8 × parallelism",
        ));
    }
    Ok(())
}

/// Drops the password of a URL before it goes into an error message or a log line.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> ServeArgs {
        let mut full = vec!["gatehouse", "serve"];
        full.extend_from_slice(argv);
        match crate::cli::Cli::try_parse_from(full).unwrap().command {
            crate::cli::Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = Config::load(&args(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(config.gateway_listen, "127.0.0.1:8080".parse().unwrap());
        assert!(config.apis.is_empty());
        assert_eq!(config.data_dir, PathBuf::from("gatehouse-data"));
        assert_eq!(config.database_url, "sqlite://gatehouse-data/gatehouse.db");
        assert_eq!(
            config.public_url, None,
            "derived from the bound address later"
        );
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.account_id, "000000000000");
        assert_eq!(
            config.delivery,
            Delivery::Outbox(PathBuf::from("gatehouse-data/outbox"))
        );
        assert_eq!(config.argon2, Argon2Settings::default());
        assert!(config.trusted_proxies.is_empty(), "no proxy is trusted");
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert_eq!(config.max_connections, 10_000);
        assert_eq!(
            config.gateway_account_limit, None,
            "a self-hosted gateway has no account-wide throttle"
        );
        assert_eq!(
            config.source_rate_limit,
            SourceRateLimit {
                per_second: 20,
                burst: 40
            }
        );
    }

    #[test]
    fn rate_limits_come_from_flag_or_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "[rate_limit]\nper_second = 5\nburst = 9\n").unwrap();
        let path = file.display().to_string();
        let from_file = Config::load(&args(&["--config", &path])).unwrap();
        assert_eq!(
            from_file.source_rate_limit,
            SourceRateLimit {
                per_second: 5,
                burst: 9
            }
        );
        let flag = args(&["--config", &path, "--rate-limit-per-second", "0"]);
        let off = Config::load(&flag).unwrap().source_rate_limit;
        assert_eq!(
            (off.per_second, off.burst),
            (0, 9),
            "the flag wins; 0 is off"
        );
        let cases: &[(&[&str], &str)] = &[
            (&["--rate-limit-per-second", "fast"], "`fast`"),
            (&["--rate-limit-burst", "0"], "burst `0`"),
            (&["--rate-limit-burst", "2000000"], "`2000000`"),
        ];
        for (argv, needle) in cases {
            let err = Config::load(&args(argv)).unwrap_err();
            assert!(err.to_string().contains(needle), "{argv:?}: {err}");
        }
        std::fs::write(&file, "[rate_limit]\nper_sec = 5\n").unwrap();
        let err = Config::load(&args(&["--config", &path])).unwrap_err();
        assert!(err.to_string().contains("per_sec"), "{err}");
    }

    #[test]
    fn the_account_throttle_comes_from_flag_or_file_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(
            &file,
            "gateway_account_rate_limit = 10000\ngateway_account_burst = 5000\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let limit = |argv: &[&str]| Config::load(&args(argv)).unwrap().gateway_account_limit;
        assert_eq!(limit(&["--config", &path]), Some((10_000, 5_000)));
        assert_eq!(
            limit(&["--config", &path, "--gateway-account-rate-limit", "0"]),
            None,
            "the flag wins; 0 is off"
        );
        assert_eq!(
            limit(&["--gateway-account-rate-limit", "300"]),
            Some((300, 300)),
            "the burst defaults to one second of the rate"
        );
        assert_eq!(
            limit(&[
                "--gateway-account-rate-limit",
                "300",
                "--gateway-account-burst",
                "20"
            ]),
            Some((300, 20))
        );
        let cases: &[(&[&str], &str)] = &[
            (&["--gateway-account-rate-limit", "fast"], "`fast`"),
            (&["--gateway-account-rate-limit", "2000000"], "`2000000`"),
            (
                &[
                    "--gateway-account-rate-limit",
                    "5",
                    "--gateway-account-burst",
                    "0",
                ],
                "burst `0`",
            ),
            (
                &["--gateway-account-burst", "10"],
                "needs a gateway account rate",
            ),
        ];
        for (argv, needle) in cases {
            let err = Config::load(&args(argv)).unwrap_err();
            assert!(err.to_string().contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn the_metrics_listener_can_move_or_be_turned_off() {
        let moved = Config::load(&args(&["--metrics-listen", "127.0.0.1:9999"])).unwrap();
        assert_eq!(
            moved.metrics_listen,
            Some("127.0.0.1:9999".parse().unwrap())
        );
        let off = Config::load(&args(&["--metrics-listen", "none"])).unwrap();
        assert_eq!(off.metrics_listen, None);
        let clash = args(&[
            "--listen",
            "127.0.0.1:9000",
            "--metrics-listen",
            "127.0.0.1:9000",
        ]);
        let err = Config::load(&clash).unwrap_err();
        assert!(err.to_string().contains("`127.0.0.1:9000`"), "{err}");
        let err = Config::load(&args(&["--metrics-listen", "metrics.local"])).unwrap_err();
        assert!(err.to_string().contains("`metrics.local`"), "{err}");
    }

    #[test]
    fn the_shutdown_grace_comes_from_flag_or_file_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "shutdown_grace_seconds = 5\n").unwrap();
        let path = file.display().to_string();
        let grace = |argv: &[&str]| Config::load(&args(argv)).map(|c| c.shutdown_grace.as_secs());
        assert_eq!(grace(&[]).unwrap(), DEFAULT_SHUTDOWN_GRACE_SECS);
        assert_eq!(grace(&["--config", &path]).unwrap(), 5);
        assert_eq!(
            grace(&["--config", &path, "--shutdown-grace", "0"]).unwrap(),
            0
        );
        for bad in ["soon", "1.5", "3601"] {
            let err = grace(&["--shutdown-grace", bad]).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn max_connections_come_from_flag_or_file_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "max_connections = 64\n").unwrap();
        let path = file.display().to_string();
        assert_eq!(
            Config::load(&args(&["--config", &path]))
                .unwrap()
                .max_connections,
            64
        );
        let flag = args(&["--config", &path, "--max-connections", "8"]);
        assert_eq!(Config::load(&flag).unwrap().max_connections, 8);
        for bad in ["0", "many", "2000000"] {
            let err = Config::load(&args(&["--max-connections", bad])).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_come_from_flag_or_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let path = file.display().to_string();
        let from_file = Config::load(&args(&["--config", &path])).unwrap();
        let shown: Vec<String> = from_file
            .trusted_proxies
            .networks()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "::1/128"]);
        let flag = args(&["--config", &path, "--trusted-proxy", "192.168.0.0/16"]);
        let from_flag = Config::load(&flag).unwrap();
        assert_eq!(
            from_flag.trusted_proxies.networks().len(),
            1,
            "the flag wins"
        );
        let err = Config::load(&args(&["--trusted-proxy", "proxy.local"])).unwrap_err();
        assert!(err.to_string().contains("`proxy.local`"), "{err}");
    }

    #[test]
    fn the_trusted_proxy_header_comes_from_flag_or_file_and_is_checked() {
        use gatehouse_identity::net::ForwardingHeader;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "trusted_proxy_header = \"forwarded\"\n").unwrap();
        let path = file.display().to_string();
        for (rule, argv, expected) in [
            ("default", &[][..], ForwardingHeader::XForwardedFor),
            (
                "file",
                &["--config", &path][..],
                ForwardingHeader::Forwarded,
            ),
            (
                "the flag wins",
                &["--config", &path, "--trusted-proxy-header", "X-Real-IP"][..],
                ForwardingHeader::XRealIp,
            ),
        ] {
            let config = Config::load(&args(argv)).unwrap();
            assert_eq!(config.trusted_proxies.header(), expected, "{rule}");
        }
        let err = Config::load(&args(&["--trusted-proxy-header", "x-client-ip"])).unwrap_err();
        assert!(err.to_string().contains("`x-client-ip`"), "{err}");
    }

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\napis = [\"shop.yaml\"]\nregion = \"eu-west-1\"\npublic_url = \"https://id.example.com/\"\n[argon2]\nmemory_kib = 4096\niterations = 1\nparallelism = 1\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let config = Config::load(&args(&["--config", &path, "--region", "ap-south-1"])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.region, "ap-south-1");
        assert_eq!(config.public_url.as_deref(), Some("https://id.example.com"));
        assert_eq!(config.argon2.memory_kib, 4096);
        assert_eq!(
            config.apis,
            vec![dir.path().join("shop.yaml")],
            "relative to the file"
        );
        let config = Config::load(&args(&["--config", &path, "--api", "other.json"])).unwrap();
        assert_eq!(
            config.apis,
            vec![PathBuf::from("other.json")],
            "the flag wins"
        );
    }

    #[test]
    fn tls_pairs_come_from_flags_or_file_and_make_the_public_url_https() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(
            &file,
            "tls_cert = \"id.crt\"\ntls_key = \"id.key\"\ngateway_tls_cert = \"gw.crt\"\ngateway_tls_key = \"gw.key\"\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let bound: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let from_file = Config::load(&args(&["--config", &path])).unwrap();
        let pair = |cert: &str, key: &str| {
            Some(TlsFiles {
                certificate: dir.path().join(cert),
                key: dir.path().join(key),
            })
        };
        assert_eq!(
            from_file.tls,
            pair("id.crt", "id.key"),
            "relative to the file"
        );
        assert_eq!(from_file.gateway_tls, pair("gw.crt", "gw.key"));
        assert_eq!(from_file.public_url_for(bound), "https://127.0.0.1:8000");
        let flags = args(&[
            "--config",
            &path,
            "--tls-cert",
            "/etc/a.crt",
            "--tls-key",
            "/etc/a.key",
        ]);
        let from_flags = Config::load(&flags).unwrap();
        assert_eq!(
            from_flags.tls,
            Some(TlsFiles {
                certificate: PathBuf::from("/etc/a.crt"),
                key: PathBuf::from("/etc/a.key"),
            }),
            "the flags win"
        );
        let plain = Config::load(&args(&[])).unwrap();
        assert_eq!((&plain.tls, &plain.gateway_tls), (&None, &None));
        assert_eq!(plain.public_url_for(bound), "http://127.0.0.1:8000");
        let cases: &[(&[&str], &str)] = &[
            (&["--tls-cert", "a.crt"], "--tls-cert and --tls-key"),
            (&["--tls-key", "a.key"], "--tls-cert and --tls-key"),
            (
                &["--gateway-tls-cert", "a.crt"],
                "--gateway-tls-cert and --gateway-tls-key",
            ),
        ];
        for (argv, needle) in cases {
            let err = Config::load(&args(argv)).unwrap_err();
            assert!(err.to_string().contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn both_thread_counts_come_from_flag_file_or_the_cpu_count_each_on_its_own() {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let defaults = Config::load(&args(&[])).unwrap();
        assert_eq!((defaults.workers, defaults.gateway_workers), (cpus, cpus));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "workers = 3\ngateway_workers = 2\n").unwrap();
        let path = file.display().to_string();
        let counts = |extra: &[&str]| {
            let argv: Vec<&str> = ["--config", path.as_str()]
                .into_iter()
                .chain(extra.iter().copied())
                .collect();
            let loaded = Config::load(&args(&argv)).unwrap();
            (loaded.workers, loaded.gateway_workers)
        };
        assert_eq!(counts(&[]), (3, 2));
        assert_eq!(counts(&["--workers", "1"]), (1, 2));
        assert_eq!(counts(&["--gateway-workers", "5"]), (3, 5));
        for (flag, name) in [
            ("--workers", "workers"),
            ("--gateway-workers", "gateway workers"),
        ] {
            for bad in ["0", "257", "two"] {
                let err = Config::load(&args(&[flag, bad])).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    format!("{name} `{bad}` must be a number from 1 to {MAX_WORKERS}")
                );
            }
        }
        for line in ["workers = 0\n", "gateway_workers = 0\n"] {
            std::fs::write(&file, line).unwrap();
            assert!(Config::load(&args(&["--config", &path])).is_err(), "{line}");
        }
    }

    #[test]
    fn the_cpu_count_default_is_capped_where_an_asked_for_count_is_refused() {
        assert_eq!(thread_count(None, None, 384), Ok(MAX_WORKERS));
        assert_eq!(thread_count(None, None, 0), Ok(1));
        assert_eq!(thread_count(None, None, 6), Ok(6));
        assert_eq!(thread_count(None, Some(384), 6), Err("384".to_owned()));
        assert_eq!(thread_count(Some(" 7 "), Some(3), 6), Ok(7));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(&file, "listne = \"127.0.0.1:9000\"\n").unwrap();
        let path = file.display().to_string();
        let err = Config::load(&args(&["--config", &path])).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("listne"), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }

    #[test]
    fn bad_values_are_refused_with_the_value_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listen", "localhost"], "`localhost`"),
            (&["--gateway-listen", "nowhere"], "`nowhere`"),
            (
                &[
                    "--listen",
                    "127.0.0.1:9000",
                    "--gateway-listen",
                    "127.0.0.1:9000",
                ],
                "`127.0.0.1:9000`",
            ),
            (&["--database-url", "mysql://x"], "`mysql://x`"),
            (&["--public-url", "ftp://x"], "`ftp://x`"),
            (&["--region", "Mars"], "`Mars`"),
            (&["--account-id", "12345"], "`12345`"),
            (&["--smtp-url", "http://mail"], "`http://mail`"),
            (&["--gateway-workers", "0"], "`0`"),
            (&["--gateway-workers", "257"], "`257`"),
            (&["--gateway-workers", "many"], "`many`"),
        ];
        for (argv, needle) in cases {
            let err = Config::load(&args(argv)).unwrap_err();
            assert!(err.to_string().contains(needle), "{argv:?}: {err}");
        }
    }

    #[test]
    fn secrets_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/gatehouse"),
            "postgres://app:***@db:5432/gatehouse"
        );
        assert_eq!(
            redact_url("smtp://mailer:pw@mail.example.com:587"),
            "smtp://mailer:***@mail.example.com:587"
        );
        assert_eq!(redact_url("sqlite://data/g.db"), "sqlite://data/g.db");
        let err =
            Config::load(&args(&["--database-url", "mysql://root:hunter2@db/x"])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn operator_keys_come_in_pairs_and_are_checked() {
        assert_eq!(operator_from_env(None, None).unwrap(), None);
        assert!(matches!(
            operator_from_env(Some("AKIAEXAMPLEEXAMPLE12".into()), None),
            Err(ConfigError::OperatorHalf)
        ));
        assert!(matches!(
            operator_from_env(Some("short".into()), Some("x".repeat(40))),
            Err(ConfigError::OperatorKeyId)
        ));
        let keys = operator_from_env(Some("AKIAEXAMPLEEXAMPLE12".into()), Some("s".repeat(40)))
            .unwrap()
            .unwrap();
        assert_eq!(keys.access_key_id, "AKIAEXAMPLEEXAMPLE12");
        assert!(
            !format!("{keys:?}").contains("ssss"),
            "Debug hides the secret"
        );
    }

    #[test]
    fn functions_come_from_the_file_then_the_flags_and_are_checked() {
        const A: &str = "arn:aws:lambda:us-east-1:123456789012:function:a";
        const B: &str = "arn:aws:lambda:us-east-1:123456789012:function:b";
        const C: &str = "arn:aws:lambda:us-east-1:123456789012:function:c:live";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.secret"), "secret-of-b-from-a-file\n").unwrap();
        let file = dir.path().join("gatehouse.toml");
        std::fs::write(
            &file,
            format!(
                "[[functions]]\narn = \"{A}\"\nurl = \"https://a.internal/fn\"\ntimeout_ms = 900\nsecret = \"secret-of-a-0123456\"\n\n\
                 [[functions]]\narn = \"{B}\"\nurl = \"http://127.0.0.1:9/b\"\nsecret_file = \"b.secret\"\n"
            ),
        )
        .unwrap();
        let path = file.display().to_string();
        let shown = |config: &Config| -> Vec<(String, String, Option<u64>, Option<String>)> {
            config
                .functions
                .iter()
                .map(|f| {
                    let secret = f.secret.as_ref().map(|s| s.0.clone());
                    (f.arn.clone(), f.url.clone(), f.timeout_ms, secret)
                })
                .collect()
        };
        let from_file = Config::load(&args(&["--config", &path])).unwrap();
        assert_eq!(
            shown(&from_file),
            [
                (
                    A.into(),
                    "https://a.internal/fn".into(),
                    Some(900),
                    Some("secret-of-a-0123456".into())
                ),
                (
                    B.into(),
                    "http://127.0.0.1:9/b".into(),
                    None,
                    Some("secret-of-b-from-a-file".into())
                ),
            ]
        );
        // A flag replaces the file's entry of its ARN (`:$LATEST` being the function itself)
        // and signs with the shared secret.
        let b_latest = format!("{B}:$LATEST=http://127.0.0.1:9/other");
        let c = format!("{C}=http://127.0.0.1:9/c");
        let flagged = Config::load(&args(&[
            "--config",
            &path,
            "--function",
            &b_latest,
            "--function",
            &c,
        ]))
        .unwrap();
        assert_eq!(
            shown(&flagged),
            [
                (
                    A.into(),
                    "https://a.internal/fn".into(),
                    Some(900),
                    Some("secret-of-a-0123456".into())
                ),
                (
                    format!("{B}:$LATEST"),
                    "http://127.0.0.1:9/other".into(),
                    None,
                    None
                ),
                (C.into(), "http://127.0.0.1:9/c".into(), None, None),
            ]
        );
        let twice = format!("{A}=http://127.0.0.1:9/a");
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                vec!["--function".into(), "nope".into()],
                "--function `nope` must be ARN=URL",
            ),
            (
                vec!["--function".into(), "nope?token:abc".into()],
                "--function `nope` must be ARN=URL",
            ),
            (
                vec![
                    "--function".into(),
                    "arn:aws:lambda:us-east-1:1:function:a=http://h/".into(),
                ],
                "the account must be 12 digits",
            ),
            (
                vec![
                    "--function".into(),
                    format!("{A}=http://u:pw@h/x?token=abc"),
                ],
                "function url `http://h/x?…`",
            ),
            (
                vec![
                    "--function".into(),
                    twice.clone(),
                    "--function".into(),
                    twice,
                ],
                "is defined twice in --function",
            ),
        ];
        for (argv, needle) in cases {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let err = Config::load(&args(&argv)).unwrap_err().to_string();
            assert!(err.contains(needle), "{argv:?}: {err}");
            for secret in ["pw", "abc"] {
                assert!(
                    !err.contains(&format!("{secret}@")) && !err.contains("token=abc"),
                    "{err}"
                );
            }
        }
        for (text, needle) in [
            (
                format!(
                    "[[functions]]\narn = \"{A}\"\nurl = \"http://h/\"\nsecret = \"s-of-sixteen-chars\"\nsecret_file = \"b.secret\"\n"
                ),
                "set `secret` or `secret_file`, not both",
            ),
            (
                format!(
                    "[[functions]]\narn = \"{A}\"\nurl = \"http://h/\"\n[[functions]]\narn = \"{A}:$LATEST\"\nurl = \"http://h/\"\n"
                ),
                "is defined twice in the config file",
            ),
            (
                format!("[[functions]]\narn = \"{A}\"\nurl = \"http://h/\"\ntimeout_ms = 0\n"),
                "timeout `0`",
            ),
            (
                format!(
                    "[[functions]]\narn = \"{A}\"\nurl = \"http://h/\"\nsecret = \"too short\"\n"
                ),
                "16 to 256 printable characters",
            ),
            (
                format!("[[functions]]\narn = \"{A}\"\nuri = \"http://h/\"\n"),
                "uri",
            ),
        ] {
            std::fs::write(&file, &text).unwrap();
            let err = Config::load(&args(&["--config", &path]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(
                !err.contains("too short") && !err.contains("s-of-sixteen"),
                "{err}"
            );
        }
    }

    #[test]
    fn several_regions_the_first_the_default() {
        let check = |arg: &str, expected: Result<(&str, &[&str]), &str>| {
            let got = Config::load(&args(&["--region", arg]));
            match (got, expected) {
                (Ok(c), Ok((first, others))) => {
                    assert_eq!(c.region, first, "{arg}");
                    assert_eq!(c.other_regions, others, "{arg}");
                }
                (Err(e), Err(named)) => assert!(e.to_string().contains(named), "{arg}: {e}"),
                (got, expected) => panic!("{arg}: got {got:?}, expected {expected:?}"),
            }
        };
        check("eu-west-1", Ok(("eu-west-1", &[])));
        check(
            "us-east-1, us-west-2,eu-west-1",
            Ok(("us-east-1", &["us-west-2", "eu-west-1"])),
        );
        check("us-east-1,us-east-1", Ok(("us-east-1", &[])));
        check("us-east-1,Mars", Err("`Mars`"));
        check("us-east-1,", Err("``"));
    }

    #[test]
    fn regions() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["", "us", "us-east", "US-EAST-1", "us-east-x", "us--1"] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
