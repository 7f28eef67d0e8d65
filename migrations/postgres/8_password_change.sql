-- Forced password change (postgres). Keep in step with the other backend's 8_password_change.sql.
-- Set for a password someone other than the member saw (the bootstrap
-- admin's, printed at first start; a one-time password from
-- `member reset-password`): sign-in is refused until the member sets a new
-- one (POST /api/v1/auth/password, or the console's form).
ALTER TABLE members ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE;
