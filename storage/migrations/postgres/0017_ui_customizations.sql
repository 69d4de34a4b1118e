-- The hosted pages' branding (SetUICustomization). Twin of ../sqlite/0017_ui_customizations.sql.
--
-- `ui_customizations`: one row per pool (`client_id` = 'ALL') and per app client that has its
--   own; `css` as the caller gave it (already checked by the identity crate), `css_version`
--   counts its changes; the logo `image` with its `image_type` (a fixed media type) and
--   `image_hash` (hex SHA-256, the logo's URL).
CREATE TABLE ui_customizations (
    pool_id     TEXT    NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    client_id   TEXT    NOT NULL,
    css         TEXT,
    css_version BIGINT  NOT NULL,
    image       BYTEA,
    image_type  TEXT,
    image_hash  TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (pool_id, client_id)
);
CREATE INDEX ui_customizations_by_image ON ui_customizations (pool_id, image_hash);
