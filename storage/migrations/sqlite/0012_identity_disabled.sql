-- An identity whose last login was unlinked (UnlinkIdentity, UnlinkDeveloperIdentity) is
-- disabled: no credentials or OpenID tokens for it, and ListIdentities with `HideDisabled`
-- leaves it out. Linking a login to it again (GetOpenIdTokenForDeveloperIdentity with its
-- IdentityId) enables it. A guest identity, which never had a login, is never disabled.
-- Twin of ../postgres/0012_identity_disabled.sql.

ALTER TABLE identities ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
