//! `gatehouse keys rotate --pool ID`: new signing keys for a pool, through the same service layer
//! the API uses (so every node picks them up from storage).

use crate::config::Config;
use crate::serve::ServeError;
use crate::state::State;

pub(crate) async fn rotate(config: Config, pool: String) -> Result<(), ServeError> {
    let public_url = config.public_url_for(config.listen);
    let state = State::open(&config, &public_url).await?;
    let result = state.user_pools.rotate_signing_keys(&pool).await;
    state.store.close().await;
    match result {
        Ok(rotated) => {
            println!("pool {pool}: new signing keys");
            println!("  id token:     {}", rotated.id_kid);
            println!("  access token: {}", rotated.access_kid);
            for kid in &rotated.retired_kids {
                println!("  retired:      {kid} (stays in the JWKS until its tokens expire)");
            }
            Ok(())
        }
        Err(err) => Err(ServeError::Command(err.to_string())),
    }
}
