-- A ceremony says what it is for: a sign-in (no account named), adding a
-- passkey to an account, or a signed-in person confirming it is still
-- them with one of their passkeys (the console's second-factor check and
-- its step-up, removing a passkey). A confirmation's answer only marks
-- the session it was asked for; it never starts one.
ALTER TABLE passkey_ceremonies ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in'
    CHECK (purpose IN ('sign_in', 'register', 'confirm'));
UPDATE passkey_ceremonies SET purpose = 'register' WHERE user_id IS NOT NULL;
