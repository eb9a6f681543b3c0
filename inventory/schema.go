package inventory

// applicationID marks a SQLite file as a keydesk inventory ("kdsk").
const applicationID = 0x6b64736b

// migrations are applied in order on open; migration i brings the schema
// from user_version i to i+1. Never edit one that has shipped: add another.
var migrations = []string{
	// 1: the core inventory.
	`
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	full_name  TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '',
	disabled   INTEGER NOT NULL DEFAULT 0,
	fail_count INTEGER NOT NULL DEFAULT 0,
	locked_at  INTEGER,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE batches (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	file_name   TEXT NOT NULL DEFAULT '',
	file_sha256 TEXT NOT NULL DEFAULT '',
	format      TEXT NOT NULL DEFAULT '',
	vendor      TEXT NOT NULL DEFAULT '',
	count       INTEGER NOT NULL DEFAULT 0,
	imported_by TEXT NOT NULL,
	imported_at INTEGER NOT NULL
) STRICT;
CREATE INDEX batches_by_sha256 ON batches(file_sha256);

CREATE TABLE fobs (
	id           INTEGER PRIMARY KEY,
	serial       TEXT NOT NULL UNIQUE,
	kind         TEXT NOT NULL CHECK (kind IN ('hotp', 'totp', 'yubico')),
	algorithm    TEXT NOT NULL DEFAULT '',
	digits       INTEGER NOT NULL DEFAULT 0,
	period       INTEGER NOT NULL DEFAULT 0,
	t0           INTEGER NOT NULL DEFAULT 0,
	counter      INTEGER NOT NULL DEFAULT 0,
	drift        INTEGER NOT NULL DEFAULT 0,
	last_step    INTEGER,
	public_id    TEXT,
	secret       BLOB NOT NULL,
	private_id   BLOB,
	state        TEXT NOT NULL DEFAULT 'stock' CHECK (state IN ('stock', 'assigned', 'lost', 'revoked')),
	state_at     INTEGER NOT NULL,
	user_id      INTEGER REFERENCES users(id),
	batch_id     INTEGER REFERENCES batches(id),
	fail_count   INTEGER NOT NULL DEFAULT 0,
	locked_at    INTEGER,
	last_used_at INTEGER,
	manufacturer TEXT NOT NULL DEFAULT '',
	model        TEXT NOT NULL DEFAULT '',
	key_id       TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
) STRICT;
-- Partial indexes: most fobs have no public id, and a box of fobs sits
-- in stock with no holder; indexing the NULLs would only slow imports.
CREATE UNIQUE INDEX fobs_by_public_id ON fobs(public_id) WHERE public_id IS NOT NULL;
CREATE INDEX fobs_by_user ON fobs(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX fobs_by_batch ON fobs(batch_id);

CREATE TABLE bypass_codes (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id),
	hash       BLOB NOT NULL,
	uses_left  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX bypass_codes_by_user ON bypass_codes(user_id);

CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL,
	detail  TEXT NOT NULL,
	mac     BLOB NOT NULL
) STRICT;
`,
	// 2: administrators and applications of the server, and U2F keys.
	`
CREATE TABLE admins (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'app_manager', 'user_manager', 'help_desk', 'billing', 'read_only')),
	token_hash BLOB NOT NULL UNIQUE,
	disabled   INTEGER NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE applications (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	key_hash       BLOB NOT NULL UNIQUE,
	radius_secret  BLOB,
	radius_sources TEXT NOT NULL DEFAULT '',
	disabled       INTEGER NOT NULL DEFAULT 0,
	created_by     TEXT NOT NULL,
	created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE keys (
	id               INTEGER PRIMARY KEY,
	user_id          INTEGER NOT NULL REFERENCES users(id),
	name             TEXT NOT NULL,
	key_handle       BLOB NOT NULL UNIQUE,
	public_key       BLOB NOT NULL,
	counter          INTEGER NOT NULL DEFAULT 0,
	app_id           TEXT NOT NULL,
	attestation_cert BLOB NOT NULL,
	attestation      TEXT NOT NULL DEFAULT '',
	model            TEXT NOT NULL DEFAULT '',
	aaguid           TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'lost', 'removed')),
	state_at         INTEGER NOT NULL,
	last_used_at     INTEGER,
	created_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX keys_by_user ON keys(user_id);
`,
	// 3: what the hardening review and the help desk asked for: bypass
	// codes that remember why they ended, applications that may hear the
	// full reason of a denial, and names matched regardless of case.
	`
ALTER TABLE bypass_codes ADD COLUMN revoked_at INTEGER;
ALTER TABLE users ADD COLUMN directory_id TEXT;
ALTER TABLE users ADD COLUMN disabled_by_sync INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_by_directory_id ON users(directory_id) WHERE directory_id IS NOT NULL;
ALTER TABLE fobs ADD COLUMN not_before INTEGER;
ALTER TABLE fobs ADD COLUMN not_after INTEGER;
ALTER TABLE bypass_codes ADD COLUMN last_used_at INTEGER;
ALTER TABLE applications ADD COLUMN detailed_reasons INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN radius_mode TEXT NOT NULL DEFAULT 'otp' CHECK (radius_mode IN ('otp', 'password+otp', 'challenge'));
-- On PostgreSQL these are unique: there, two servers may add "Alice" and
-- "alice" at once, which one SQLite writer never does.
CREATE INDEX users_by_folded_name ON users(name COLLATE NOCASE); -- unique on PostgreSQL
CREATE INDEX admins_by_folded_name ON admins(name COLLATE NOCASE); -- unique on PostgreSQL
CREATE INDEX applications_by_folded_name ON applications(name COLLATE NOCASE); -- unique on PostgreSQL

-- The authentication log: every decision, with where it was asked from,
-- written in the decision's own transaction and kept for a set time.
CREATE TABLE auth_log (
	id              INTEGER PRIMARY KEY,
	at              INTEGER NOT NULL,
	username        TEXT NOT NULL,
	factor          TEXT NOT NULL DEFAULT '',
	transport       TEXT NOT NULL,
	app             TEXT NOT NULL DEFAULT '',
	source          TEXT NOT NULL DEFAULT '',
	nas_identifier  TEXT NOT NULL DEFAULT '',
	nas_ip          TEXT NOT NULL DEFAULT '',
	calling_station TEXT NOT NULL DEFAULT '',
	result          TEXT NOT NULL CHECK (result IN ('allow', 'deny')),
	reason_code     TEXT NOT NULL,
	reason          TEXT NOT NULL
) STRICT;
CREATE INDEX auth_log_by_user ON auth_log(username COLLATE NOCASE, id);
CREATE INDEX auth_log_by_app ON auth_log(app, id);

-- RADIUS Access-Challenge State (RFC 2865 §5.24): the first request's
-- password was right; the second must come from the same client for the
-- same user, once, before it expires. Kept here so that any server of
-- several answers the second request.
CREATE TABLE radius_states (
	hash       BLOB PRIMARY KEY,
	username   TEXT NOT NULL,
	client     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
`,
	// 4: FIDO2 keys at the desk. A key row is a WebAuthn credential of
	// either kind: 'u2f' (registered over CTAP1 under app_id) or 'ctap2'
	// (registered over CTAP2 for rp_id). key_handle is the credential id
	// of both; public_key stays the raw U2F point of 'u2f' rows, and
	// cose_key is the COSE_Key (RFC 9052 §7) of every row registered from
	// now on, so that a WebAuthn server can check a login by either kind.
	// attestation_cert holds the whole certificate chain, DER certificates
	// one after the other, the attestation certificate first (a row of
	// schema 3 holds a chain of one).
	`
ALTER TABLE keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'u2f' CHECK (kind IN ('u2f', 'ctap2'));
ALTER TABLE keys ADD COLUMN rp_id TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN cose_key BLOB NOT NULL DEFAULT x'';
ALTER TABLE keys ADD COLUMN algorithm INTEGER NOT NULL DEFAULT -7;
ALTER TABLE keys ADD COLUMN attestation_format TEXT NOT NULL DEFAULT 'fido-u2f';
ALTER TABLE keys ADD COLUMN resident INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN user_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN backup_eligible INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN backup_state INTEGER NOT NULL DEFAULT 0;
CREATE INDEX keys_by_rp ON keys(rp_id) WHERE rp_id != '';

-- The WebAuthn user handle (WebAuthn §5.4.3): random, opaque, made at the
-- user's first CTAP2 registration and never changed, since resident
-- credentials on the user's keys carry it.
ALTER TABLE users ADD COLUMN webauthn_id BLOB;
CREATE UNIQUE INDEX users_by_webauthn_id ON users(webauthn_id) WHERE webauthn_id IS NOT NULL;

-- The FIDO Metadata Service BLOB (MDS3 §3.1.7) last imported, as it came;
-- roots is the PEM of the root it was checked against when not FIDO's
-- built-in one. One row: a new import replaces it.
CREATE TABLE mds_blob (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	blob        BLOB NOT NULL,
	serial      INTEGER NOT NULL,
	next_update INTEGER NOT NULL,
	roots       BLOB NOT NULL DEFAULT x'',
	signer      TEXT NOT NULL DEFAULT '',
	models      INTEGER NOT NULL DEFAULT 0,
	imported_by TEXT NOT NULL,
	imported_at INTEGER NOT NULL
) STRICT;
`,
	// 5: the self-service portal and WebAuthn in the browser: phone apps
	// waiting for their first code, enrolment and activation links,
	// portal sessions, and WebAuthn ceremonies in flight. A key
	// registered through a browser is a 'ctap2' row of keys, as one
	// registered at the desk over CTAP2 is; keys gain the transports a
	// browser reports.
	`
-- Links a user opens in the portal: an enrolment link (a first device)
-- or an activation link (pair a phone app). Only their keyed hash is kept.
CREATE TABLE portal_links (
	id         INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('enrol', 'activate')),
	user_id    INTEGER NOT NULL REFERENCES users(id),
	token_hash BLOB NOT NULL UNIQUE,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER
) STRICT;
CREATE INDEX portal_links_by_user ON portal_links(user_id, kind);

-- A phone app is a TOTP seed shown to a user once. Until its first
-- right code it is only this row, with the seed sealed here; paired, it
-- is a fob row (fob_id) that answers like any fob, and the seed is gone
-- from this row.
CREATE TABLE phone_apps (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id),
	fob_id     INTEGER UNIQUE REFERENCES fobs(id),
	secret     BLOB,
	state      TEXT NOT NULL CHECK (state IN ('pending', 'paired', 'abandoned')),
	issuer     TEXT NOT NULL,
	account    TEXT NOT NULL,
	link_id    INTEGER REFERENCES portal_links(id),
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	state_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX phone_apps_by_user ON phone_apps(user_id);

-- Portal sessions, kept here so that every server behind one database
-- knows them. The cookie holds the id; the row only its keyed hash.
CREATE TABLE portal_sessions (
	id         INTEGER PRIMARY KEY,
	id_hash    BLOB NOT NULL UNIQUE,
	kind       TEXT NOT NULL CHECK (kind IN ('visitor', 'signed_in', 'enrol', 'activate')),
	user_id    INTEGER REFERENCES users(id),
	link_id    INTEGER REFERENCES portal_links(id),
	csrf       BLOB NOT NULL,
	factor     TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	ends_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX portal_sessions_by_expiry ON portal_sessions(expires_at);

-- WebAuthn ceremonies begun and not yet finished: the challenge, whom it
-- is for and who may finish it. A ceremony is finished at most once, and
-- within its time. user_handle is the WebAuthn user handle drawn for a
-- registration by a user who had none: it becomes the user's with the
-- key the ceremony registers, in the same update.
CREATE TABLE webauthn_ceremonies (
	id          INTEGER PRIMARY KEY,
	id_hash     BLOB NOT NULL UNIQUE,
	purpose     TEXT NOT NULL CHECK (purpose IN ('login', 'register')),
	user_id     INTEGER NOT NULL REFERENCES users(id),
	bound_to    TEXT NOT NULL,
	challenge   BLOB NOT NULL,
	key_ids     TEXT NOT NULL DEFAULT '',
	app_id      TEXT NOT NULL DEFAULT '',
	require_uv  INTEGER NOT NULL DEFAULT 0,
	user_handle BLOB,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER
) STRICT;
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies(expires_at);

-- The transports a browser reported for a key at its registration
-- (WebAuthn §5.2.1 getTransports: "usb", "nfc", ...), comma-separated,
-- handed back in allowCredentials so that the browser asks for the key
-- the right way; '' when none were reported.
ALTER TABLE keys ADD COLUMN transports TEXT NOT NULL DEFAULT '';
`,
	// 6: what the help desk's first weeks asked for: why a fob was
	// reported lost or revoked and why a user was disabled, a keyed hash
	// of each fob's seed (so that the same seed on two fobs is found
	// without a seed ever compared in the clear), and indexes for the
	// reports: locks held, seed-file expiry dates, live bypass codes.
	`
ALTER TABLE fobs ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE fobs ADD COLUMN seed_hash BLOB;
CREATE INDEX fobs_by_seed_hash ON fobs(seed_hash) WHERE seed_hash IS NOT NULL;
-- Fobs stored before this migration have no hash until the store opens
-- their seeds and hashes them (Store.hashSeeds); this finds them at once.
CREATE INDEX fobs_without_seed_hash ON fobs(id) WHERE seed_hash IS NULL;
CREATE INDEX fobs_locked ON fobs(locked_at) WHERE locked_at IS NOT NULL;
CREATE INDEX users_locked ON users(locked_at) WHERE locked_at IS NOT NULL;
CREATE INDEX fobs_by_not_after ON fobs(not_after) WHERE not_after IS NOT NULL;
CREATE INDEX bypass_codes_by_expiry ON bypass_codes(expires_at);
`,
}
