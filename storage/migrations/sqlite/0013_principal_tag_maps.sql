-- The principal-tag attribute maps of identity pools (SetPrincipalTagAttributeMap): for one
-- identity provider of a pool, which claims of its tokens become which session tags of the
-- credentials GetCredentialsForIdentity issues. `tags` is JSON owned by the identity crate
-- (`{"tag key": "claim name"}`); `use_defaults` says the provider's default map applies.
-- Deleting the pool deletes its maps. Times are Unix epoch milliseconds.
-- Twin of ../postgres/0013_principal_tag_maps.sql.

CREATE TABLE identity_pool_tag_maps (
    pool_id      TEXT    NOT NULL REFERENCES identity_pools (id) ON DELETE CASCADE,
    provider     TEXT    NOT NULL,
    use_defaults INTEGER NOT NULL,
    tags         TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (pool_id, provider)
) STRICT;
