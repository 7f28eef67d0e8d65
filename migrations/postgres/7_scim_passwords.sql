-- SCIM passwords (postgres). Keep in step with the other backend's 7_scim_passwords.sql.
-- Whether the identity provider may set members' passwords through SCIM
-- (Okta's "sync password"). Off by default: a SCIM token must not be able to
-- choose a password someone then signs in with, unless an admin opted in.
ALTER TABLE organizations ADD COLUMN scim_passwords BOOLEAN NOT NULL DEFAULT FALSE;
