//! `gatehouse users migrate-from`: sets, shows or stops the upstream user pool a pool takes
//! its missing users from (lazy migration), through the user pools' service layer. Secrets
//! come from a file or the environment, never from a flag (other users of the machine read
//! flags in the process list), and are never printed.

use std::time::Duration;

use gatehouse_identity::user_pools::{SetUpstreamPool, UpstreamCredentials, UpstreamPool};

use crate::cli::MigrateFromArgs;
use crate::config::Config;
use crate::serve::ServeError;
use crate::state::State;

/// The environment variable holding the upstream app client's secret.
const CLIENT_SECRET_ENV: &str = "GATEHOUSE_MIGRATION_CLIENT_SECRET";

pub(crate) async fn run(config: Config, args: MigrateFromArgs) -> Result<(), ServeError> {
    let set = if args.show || args.off {
        None
    } else {
        Some(settings(&args)?)
    };
    let public_url = config.public_url_for(config.listen);
    let state = State::open(&config, &public_url).await?;
    let pools = &state.user_pools;
    let result = match set {
        Some(set) => pools
            .set_upstream_pool(&args.pool, set)
            .await
            .map(|shown| print(&shown)),
        None if args.off => pools.remove_upstream_pool(&args.pool).await.map(|had| {
            if had {
                println!("pool {}: no longer migrates users", args.pool);
            } else {
                println!("pool {}: migrated users from nowhere", args.pool);
            }
        }),
        None => pools
            .upstream_pool(&args.pool)
            .await
            .map(|shown| match shown {
                Some(shown) => print(&shown),
                None => println!("pool {}: migrates users from nowhere", args.pool),
            }),
    };
    state.store.close().await;
    result.map_err(|e| ServeError::Command(e.to_string()))
}

fn settings(args: &MigrateFromArgs) -> Result<SetUpstreamPool, ServeError> {
    let command = |m: String| ServeError::Command(m);
    let client_secret = match &args.client_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| command(format!("`{}`: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var(CLIENT_SECRET_ENV)
            .ok()
            .filter(|s| !s.is_empty()),
    };
    let credentials = if args.aws_credentials_from_env {
        if std::env::var_os("AWS_SESSION_TOKEN").is_some_and(|t| !t.is_empty()) {
            return Err(command(
                "AWS_SESSION_TOKEN is set: temporary credentials expire, give the long-term key of an IAM user allowed cognito-idp:AdminGetUser".into(),
            ));
        }
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| command(format!("--aws-credentials-from-env: {name} is not set")))
        };
        Some(UpstreamCredentials {
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        })
    } else {
        None
    };
    Ok(SetUpstreamPool {
        upstream_pool_id: args.user_pool_id.clone().unwrap_or_default(),
        region: args.upstream_region.clone(),
        endpoint: args.endpoint_url.clone(),
        client_id: args.client_id.clone().unwrap_or_default(),
        client_secret,
        credentials,
        timeout: args.timeout.map(Duration::from_secs),
    })
}

fn print(shown: &UpstreamPool) {
    println!(
        "pool {}: migrates users from {} at {}",
        shown.pool_id, shown.upstream_pool_id, shown.endpoint
    );
    println!("  region:        {}", shown.region);
    println!(
        "  app client:    {} ({})",
        shown.client_id,
        if shown.has_client_secret {
            "with its secret, sealed"
        } else {
            "without a secret"
        }
    );
    match &shown.access_key_id {
        Some(key) => println!("  AdminGetUser:  signed with {key} (ForgotPassword migrates)"),
        None => println!(
            "  AdminGetUser:  no credentials (ForgotPassword does not migrate; see --aws-credentials-from-env)"
        ),
    }
    println!("  timeout:       {} s", shown.timeout.as_secs());
}
