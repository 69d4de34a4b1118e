-- Federation with upstream identity providers. Twin of ../sqlite/0018_identity_providers.sql.
--
-- `identity_providers`: CreateIdentityProvider …; `details` (ProviderDetails, the client
--   secret sealed), `attribute_mapping` and `idp_identifiers` are JSON the identity crate owns.
-- `identity_provider_links`: which pool user an upstream identity (provider name and its
--   subject) signs in as: the user made at its first sign-in, or a native user it was linked
--   to by AdminLinkProviderForUser. One user per upstream identity; gone with the user.
CREATE TABLE identity_providers (
    pool_id           TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    provider_type     TEXT    NOT NULL,
    details           TEXT    NOT NULL,
    attribute_mapping TEXT    NOT NULL,
    idp_identifiers   TEXT    NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE identity_provider_links (
    pool_id    TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    provider   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_sub   TEXT    NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, provider, subject)
);
CREATE INDEX identity_provider_links_by_user ON identity_provider_links (pool_id, user_sub);
