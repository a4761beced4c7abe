-- A member is the identity provider's subject (with its issuer), never a mutable claim like email.
-- Members created before their first sign-in (in store, by an admin; existing rows too) have no
-- identity yet: the first sign-in whose token says the email is verified links them, exactly once.
ALTER TABLE members
    ADD COLUMN identity_issuer  text,
    ADD COLUMN identity_subject text,
    ADD COLUMN linked_at        timestamptz,
    ADD CONSTRAINT members_identity_complete CHECK ((identity_issuer IS NULL) = (identity_subject IS NULL)),
    ADD CONSTRAINT members_linked_when CHECK ((identity_subject IS NULL) = (linked_at IS NULL));
CREATE UNIQUE INDEX members_identity_key ON members (identity_issuer, identity_subject)
    WHERE identity_subject IS NOT NULL;
