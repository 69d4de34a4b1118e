//! The command-line grammar, declared once with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// gatehouse: a self-hosted identity and API gateway speaking the Cognito, IAM and API Gateway
/// wire protocols.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the service: the Cognito-compatible identity API and the operator API.
    Serve(ServeArgs),
    /// Manage token-signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage API keys of the gateway (the value is shown once, at creation).
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Ask a running service whether it is ready (exit 0) or not (exit 1): the container
    /// image's health check, which has no curl.
    Health {
        /// The readiness URL (plain http, an IP address and port).
        #[arg(long, default_value = "http://127.0.0.1:9464/health/ready")]
        url: String,
    },
    /// Write a consistent snapshot of the SQLite database to FILE while the service runs
    /// (PostgreSQL: prints the pg_dump recipe).
    Backup {
        /// Where the snapshot goes; never overwritten.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Put a backup in place as the database of a fresh data folder, after checking that it is
    /// whole and that the master key opens it.
    Restore {
        /// A file written by `gatehouse backup`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Move users between gatehouse services with their password hashes, SRP verifiers and
    /// TOTP seeds sealed under a transfer key.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Test, validate and simulate IAM JSON policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// Settings of a running service. Each flag can also come from its `GATEHOUSE_*` variable or
/// from the `--config` file (flag > env > file > default).
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// A TOML config file (see the README for its keys).
    #[arg(long, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address of the identity and operator listener [default: 127.0.0.1:8000].
    #[arg(long, env = "GATEHOUSE_LISTEN", value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    /// Folder for the SQLite database, generated credentials and keys, and the outbox
    /// [default: ./gatehouse-data].
    #[arg(long, env = "GATEHOUSE_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://…` [default: sqlite://DATA_DIR/gatehouse.db].
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", value_name = "URL")]
    pub(crate) database_url: Option<String>,
    /// Base of the token issuer URLs [default: http://LISTEN as bound, https:// with
    /// `--tls-cert`].
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL", value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// A DynamoDB-compatible endpoint: the identity listener then accepts DynamoDB requests
    /// signed with temporary credentials, checks them row by row against the caller's role
    /// and forwards what is allowed, re-signed with AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) from the environment.
    #[arg(long, env = "GATEHOUSE_DYNAMODB_UPSTREAM", value_name = "URL")]
    pub(crate) dynamodb_upstream: Option<String>,
    /// PEM file of root certificates trusted, beside the Mozilla roots, for OpenID Connect
    /// issuers: registered OIDC providers (identity pools, AssumeRoleWithWebIdentity) and
    /// the gateway's JWT authorizers.
    #[arg(long, env = "GATEHOUSE_OIDC_CA_FILE", value_name = "FILE")]
    pub(crate) oidc_ca_file: Option<PathBuf>,
    /// The AWS regions gatehouse answers as, comma-separated; the first is where pools are
    /// made without a signed region [default: us-east-1].
    #[arg(long, env = "GATEHOUSE_REGION")]
    pub(crate) region: Option<String>,
    /// The account id in ARNs [default: 000000000000].
    #[arg(long, env = "GATEHOUSE_ACCOUNT_ID")]
    pub(crate) account_id: Option<String>,
    /// Send codes by SMTP (`smtp://user:pass@host:587`, `smtps://…`) instead of the outbox folder.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", value_name = "URL")]
    pub(crate) smtp_url: Option<String>,
    /// A PEM certificate chain: the identity listener serves HTTPS (and HTTP/2 through
    /// ALPN) with it; reloaded on change and on SIGHUP. Needs `--tls-key`.
    #[arg(long, env = "GATEHOUSE_TLS_CERT", value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "GATEHOUSE_TLS_KEY", value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,
    /// A PEM certificate chain for the gateway listener (HTTPS and HTTP/2 through ALPN);
    /// reloaded on change and on SIGHUP. Needs `--gateway-tls-key`.
    #[arg(long, env = "GATEHOUSE_GATEWAY_TLS_CERT", value_name = "FILE")]
    pub(crate) gateway_tls_cert: Option<PathBuf>,
    /// The PEM private key of `--gateway-tls-cert`.
    #[arg(long, env = "GATEHOUSE_GATEWAY_TLS_KEY", value_name = "FILE")]
    pub(crate) gateway_tls_key: Option<PathBuf>,
    /// Address of the API gateway listener [default: 127.0.0.1:8080].
    #[arg(long, env = "GATEHOUSE_GATEWAY_LISTEN", value_name = "HOST:PORT")]
    pub(crate) gateway_listen: Option<String>,
    /// Threads of the runtime that serves the identity listener (Cognito, identity pools,
    /// IAM and STS, the DynamoDB proxy, the operator APIs) and the background work; the
    /// gateway's data plane has its own (`--gateway-workers`), password hashing a pool sized
    /// by the CPU count [default: the number of CPUs].
    #[arg(long, env = "GATEHOUSE_WORKERS", value_name = "N")]
    pub(crate) workers: Option<String>,
    /// Gateway worker threads, each a single-threaded runtime with its own listener on the
    /// gateway port [default: the number of CPUs].
    #[arg(long, env = "GATEHOUSE_GATEWAY_WORKERS", value_name = "N")]
    pub(crate) gateway_workers: Option<String>,
    /// Requests per second the gateway admits over all APIs and keys together (API Gateway's
    /// account-wide throttle; AWS's default is 10000 with a burst of 5000); 0 turns it off
    /// [default: off].
    #[arg(long, env = "GATEHOUSE_GATEWAY_ACCOUNT_RATE_LIMIT", value_name = "RPS")]
    pub(crate) gateway_account_rate_limit: Option<String>,
    /// Requests the account-wide throttle admits at once before its rate applies
    /// [default: the rate].
    #[arg(long, env = "GATEHOUSE_GATEWAY_ACCOUNT_BURST", value_name = "N")]
    pub(crate) gateway_account_burst: Option<String>,
    /// An API definition for the gateway: the declarative YAML/TOML format, OpenAPI 3 or
    /// Swagger 2, told apart by content (repeatable; reloaded on change and on SIGHUP).
    #[arg(
        long = "api",
        env = "GATEHOUSE_APIS",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub(crate) apis: Vec<PathBuf>,
    /// A Lambda function served by an HTTP endpoint, `ARN=URL` (repeatable): gatehouse POSTs
    /// the events a Lambda would receive (Cognito triggers, the gateway's `aws_proxy`
    /// integrations and Lambda authorizers) to URL, signed with the secret generated once in
    /// the data folder (or `GATEHOUSE_FUNCTION_SECRET`); see docs/functions.md.
    #[arg(
        long = "function",
        env = "GATEHOUSE_FUNCTIONS",
        value_name = "ARN=URL",
        value_delimiter = ','
    )]
    pub(crate) functions: Vec<String>,
    /// A proxy (IP address or CIDR) whose forwarding header (`--trusted-proxy-header`) names
    /// the client (repeatable) [default: none, the TCP peer is the client].
    #[arg(
        long = "trusted-proxy",
        env = "GATEHOUSE_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<String>,
    /// The one header trusted proxies write the client's address into: `x-forwarded-for`,
    /// `forwarded` or `x-real-ip`; the others are never read [default: x-forwarded-for].
    #[arg(
        long = "trusted-proxy-header",
        env = "GATEHOUSE_TRUSTED_PROXY_HEADER",
        value_name = "HEADER"
    )]
    pub(crate) trusted_proxy_header: Option<String>,
    /// Address of the Prometheus metrics listener, or `none` [default: 127.0.0.1:9464].
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN", value_name = "HOST:PORT|none")]
    pub(crate) metrics_listen: Option<String>,
    /// Client connections each public listener keeps open at once; one more is answered 503
    /// and closed [default: 10000].
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", value_name = "N")]
    pub(crate) max_connections: Option<String>,
    /// Seconds a stopping service (SIGTERM, SIGINT) gives in-flight requests on every listener
    /// before it closes them; a second signal stops at once [default: 30].
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub(crate) shutdown_grace: Option<String>,
    /// Requests per second one client address may send to the unauthenticated Cognito
    /// operations (SignUp, InitiateAuth, codes, challenges); 0 turns the limit off
    /// [default: 20].
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_PER_SECOND", value_name = "N")]
    pub(crate) rate_limit_per_second: Option<String>,
    /// Requests one client address may send at once before the per-second rate applies
    /// [default: 40].
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_BURST", value_name = "N")]
    pub(crate) rate_limit_burst: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApikeyCommand {
    /// Create a key (generated unless `--value` is given) and print its value once.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Use this value (30 to 128 characters) instead of a generated one.
        #[arg(long, value_name = "VALUE")]
        value: Option<String>,
        /// Bind the key to a usage plan (repeatable): a stored plan's id or a plan of the
        /// definition files named by `--api`.
        #[arg(long = "plan", value_name = "PLAN")]
        plans: Vec<String>,
        /// Create the key disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// List keys: id, name, value prefix, enabled, plans.
    List {
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Stop a key from authorizing requests.
    Disable {
        id: String,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Let a disabled key authorize requests again.
    Enable {
        id: String,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Delete a key for good.
    Delete {
        id: String,
        #[command(flatten)]
        service: ServeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Write a pool's users as JSON lines (the pool first); secrets sealed under the transfer
    /// key, never in clear.
    Export {
        /// The user pool id, e.g. `us-east-1_AbCdEfGhI`.
        #[arg(long = "pool", value_name = "ID")]
        pool: String,
        /// A new file (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The transfer key (`id:base64` of 32 bytes) [default: $GATEHOUSE_EXPORT_KEY].
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Read an export (every line checked before the first is written) into this service.
    Import {
        /// The pool to import into [default: the exported pool's id, made with its
        /// configuration when missing; SRP verifiers carry over only to that id].
        #[arg(long = "pool", value_name = "ID")]
        pool: Option<String>,
        /// The export file instead of stdin.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// The transfer key the export was sealed with [default: $GATEHOUSE_EXPORT_KEY].
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        service: ServeArgs,
    },
    /// Take users the pool does not have from a Cognito user pool (AWS's, or any compatible
    /// endpoint) at their first sign-in or password reset, as Cognito's user-migration
    /// trigger does; `--show` and `--off` show and stop it.
    MigrateFrom(Box<MigrateFromArgs>),
}

/// `gatehouse users migrate-from`: where a pool takes users it does not have yet.
#[derive(Debug, Args)]
pub(crate) struct MigrateFromArgs {
    /// The pool users are migrated into, e.g. `us-east-1_AbCdEfGhI`.
    #[arg(long = "pool", value_name = "ID")]
    pub(crate) pool: String,
    /// The Cognito user pool users come from, e.g. `eu-west-1_AbCdEf123` (set or replace).
    #[arg(
        long = "user-pool-id",
        value_name = "ID",
        required_unless_present_any = ["show", "off"],
        requires = "client_id"
    )]
    pub(crate) user_pool_id: Option<String>,
    /// An app client of that pool with ALLOW_USER_PASSWORD_AUTH. Its secret, if it has one,
    /// comes from `--client-secret-file` or GATEHOUSE_MIGRATION_CLIENT_SECRET, never a flag.
    #[arg(long = "client-id", value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// A file holding the app client's secret.
    #[arg(long = "client-secret-file", value_name = "FILE")]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// The upstream's region [default: the one the user pool id starts with].
    #[arg(long = "upstream-region", value_name = "REGION")]
    pub(crate) upstream_region: Option<String>,
    /// The Cognito endpoint [default: https://cognito-idp.REGION.amazonaws.com/]; `http://`
    /// only to a loopback address.
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// Sign AdminGetUser with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the
    /// environment (a long-term key allowed `cognito-idp:AdminGetUser`): needed to migrate
    /// users at ForgotPassword and users the upstream answers with an MFA challenge.
    #[arg(long = "aws-credentials-from-env")]
    pub(crate) aws_credentials_from_env: bool,
    /// Seconds one upstream call may take [default: 5, at most 30].
    #[arg(long = "timeout", value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
    /// Show what the pool migrates from (never a secret).
    #[arg(long, conflicts_with_all = ["user_pool_id", "off"])]
    pub(crate) show: bool,
    /// Stop migrating users into the pool (users already migrated stay).
    #[arg(long, conflicts_with_all = ["user_pool_id", "show"])]
    pub(crate) off: bool,
    #[command(flatten)]
    pub(crate) service: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make new ID and access token signing keys for a user pool; old keys keep verifying the
    /// tokens they signed until those expire.
    Rotate {
        /// The user pool id, e.g. `us-east-1_AbCdEfGhI`.
        #[arg(long = "pool", value_name = "ID")]
        pool: String,
        #[command(flatten)]
        service: ServeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Evaluate every (action, resource) pair against the given policies.
    ///
    /// Exit status: 0 when every result is allowed, 1 when any is denied, 2 on invalid input.
    Simulate(SimulateArgs),
    /// Report errors and reviewer warnings in policy documents (exit 2 on errors).
    Validate(ValidateArgs),
    /// Run YAML policy test suites: policies next to the decisions they must give.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// An identity-based policy document (repeatable).
    #[arg(long = "policy", value_name = "FILE", required = true)]
    pub(crate) policies: Vec<PathBuf>,
    /// A permissions boundary: an allow must also be granted here.
    #[arg(long, value_name = "FILE")]
    pub(crate) boundary: Option<PathBuf>,
    /// A session policy (repeatable): an allow must also be granted by each.
    #[arg(long = "session-policy", value_name = "FILE")]
    pub(crate) session_policies: Vec<PathBuf>,
    /// A resource-based policy (repeatable); its Principal is matched against --principal.
    #[arg(long = "resource-policy", value_name = "FILE")]
    pub(crate) resource_policies: Vec<PathBuf>,
    /// The calling principal for resource-based policies: an ARN or account id, or
    /// `service:NAME`, `federated:NAME`, `anonymous`.
    #[arg(long, value_name = "PRINCIPAL")]
    pub(crate) principal: Option<String>,
    /// An action such as `dynamodb:GetItem` (repeatable).
    #[arg(long = "action", value_name = "ACTION", required = true)]
    pub(crate) actions: Vec<String>,
    /// A resource ARN (repeatable).
    #[arg(long = "resource", value_name = "ARN", required = true)]
    pub(crate) resources: Vec<String>,
    /// A context key and value; a key given more than once is multi-valued.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub(crate) context: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Policy documents to check.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// YAML test-suite files.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    /// clap's own checks of the grammar (unique names, valid groups), run once here rather
    /// than at the first use of a subcommand.
    #[test]
    fn the_grammar_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
