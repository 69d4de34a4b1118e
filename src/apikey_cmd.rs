//! `gatehouse apikey …`: API keys of the gateway, through the same service the operator API
//! uses (running nodes pick changes up within a second or two).

use gatehouse_gateway::server::usage::manage::NewApiKey;

use crate::cli::ApikeyCommand;
use crate::config::Config;
use crate::gateway::GatewayParts;
use crate::serve::ServeError;
use crate::state::State;

/// The service settings a subcommand carries.
pub(crate) fn service_args(command: &ApikeyCommand) -> &crate::cli::ServeArgs {
    match command {
        ApikeyCommand::Create { service, .. }
        | ApikeyCommand::List { service }
        | ApikeyCommand::Disable { service, .. }
        | ApikeyCommand::Enable { service, .. }
        | ApikeyCommand::Delete { service, .. } => service,
    }
}

pub(crate) async fn run(config: Config, command: ApikeyCommand) -> Result<(), ServeError> {
    let public_url = config.public_url_for(config.listen);
    let state = State::open(&config, &public_url).await?;
    let result = execute(&config, &state, command).await;
    state.store.close().await;
    result
}

async fn execute(config: &Config, state: &State, command: ApikeyCommand) -> Result<(), ServeError> {
    // The gateway parts know the usage plans of the definition files as well as stored ones.
    let gateway = GatewayParts::open(config, state, None, None).await?;
    let usage = &gateway.usage;
    let failed =
        |err: gatehouse_gateway::server::usage::UsageError| ServeError::Command(err.to_string());
    match command {
        ApikeyCommand::Create {
            name,
            description,
            value,
            plans,
            disabled,
            ..
        } => {
            let created = usage
                .create_key(NewApiKey {
                    name,
                    description,
                    enabled: !disabled,
                    value,
                })
                .await
                .map_err(failed)?;
            for plan in &plans {
                usage
                    .add_plan_key(plan, &created.key.id)
                    .await
                    .map_err(failed)?;
            }
            println!("id:    {}", created.key.id);
            println!("value: {}", created.value);
            println!("(the value is not shown again: store it now)");
        }
        ApikeyCommand::List { .. } => {
            println!("ID\tNAME\tPREFIX\tENABLED\tPLANS");
            for key in usage.list_keys().await.map_err(failed)? {
                println!(
                    "{}\t{}\t{}…\t{}\t{}",
                    key.id,
                    key.name,
                    key.prefix,
                    key.enabled,
                    key.usage_plan_ids.join(",")
                );
            }
        }
        ApikeyCommand::Disable { id, .. } => {
            usage.set_key_enabled(&id, false).await.map_err(failed)?;
            println!("{id}: disabled");
        }
        ApikeyCommand::Enable { id, .. } => {
            usage.set_key_enabled(&id, true).await.map_err(failed)?;
            println!("{id}: enabled");
        }
        ApikeyCommand::Delete { id, .. } => {
            usage.delete_key(&id).await.map_err(failed)?;
            println!("{id}: deleted");
        }
    }
    Ok(())
}
