-- The principal-tag attribute maps of identity pools (SetPrincipalTagAttributeMap): for one
-- identity provider of a pool, which claims of its tokens become which session tags of the
-- credentials GetCredentialsForIdentity issues. `tags` is JSON owned by the identity crate
-- (`{"tag key": "claim name"}`); `use_defaults` says the provider's default map applies.
-- Deleting the pool deletes its maps. Times are Unix epoch milliseconds.
-- Twin of ../sqlite/0013_principal_tag_maps.sql.

CREATE TABLE identity_pool_tag_maps (
    pool_id      TEXT COLLATE "C" NOT NULL REFERENCES identity_pools (id) ON DELETE CASCADE,
    provider     TEXT COLLATE "C" NOT NULL,
    use_defaults BOOLEAN NOT NULL,
    tags         TEXT COLLATE "C" NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (pool_id, provider)
);
