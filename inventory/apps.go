package inventory

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// RADIUS shared secrets: RFC 2865 §3 prefers at least 16 octets, and a
// short secret is what makes forging or cracking a packet cheap.
const (
	MinRADIUSSecret = 16
	MaxRADIUSSecret = 128
)

// maxRADIUSSources bounds the source prefixes of one application.
const maxRADIUSSources = 64

// Application is a client of the server: an API client that calls
// /v1/auth with its key, and a RADIUS client when it has a shared secret.
// Neither the key nor the secret is ever part of it.
type Application struct {
	ID            int64          `json:"-"`
	Name          string         `json:"name"`
	RADIUS        bool           `json:"radius"`
	RADIUSSources []netip.Prefix `json:"radius_sources,omitempty"`
	RADIUSMode    RADIUSMode     `json:"radius_mode,omitempty"`
	// DetailedReasons lets the application hear why a login was denied
	// in the help desk's words; others hear only that it was.
	DetailedReasons bool      `json:"detailed_reasons"`
	Disabled        bool      `json:"disabled"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
}

// RADIUSMode is how a RADIUS client's Access-Requests carry the second
// factor (docs/configuration.md, "RADIUS modes").
type RADIUSMode string

const (
	// ModeOTP: User-Password is the passcode.
	ModeOTP RADIUSMode = "otp"
	// ModePasswordOTP: User-Password is the directory password and the
	// passcode, "password,passcode".
	ModePasswordOTP RADIUSMode = "password+otp"
	// ModeChallenge: User-Password is the directory password; the
	// passcode comes in a second request, after an Access-Challenge.
	ModeChallenge RADIUSMode = "challenge"
)

// ParseRADIUSMode accepts a mode as stored, or empty for otp.
func ParseRADIUSMode(s string) (RADIUSMode, error) {
	switch m := RADIUSMode(s); m {
	case "":
		return ModeOTP, nil
	case ModeOTP, ModePasswordOTP, ModeChallenge:
		return m, nil
	}
	return "", fmt.Errorf("unknown RADIUS mode %q (want otp, password+otp or challenge)", s)
}

// NewApplication is what [Tx.AddApplication] stores.
type NewApplication struct {
	Name string
	// RADIUSSecret makes the application a RADIUS client too; it is
	// sealed, since RADIUS needs the secret itself, not a hash of it.
	RADIUSSecret []byte
	// RADIUSSources are the addresses its RADIUS requests may come from;
	// required with a secret.
	RADIUSSources []netip.Prefix
	// RADIUSMode is otp when empty.
	RADIUSMode RADIUSMode
	// DetailedReasons: see [Application].
	DetailedReasons bool
}

// Check says what is wrong with a new application, if anything.
func (a *NewApplication) Check() error {
	if err := CheckName("application", a.Name); err != nil {
		return err
	}
	if err := CheckRADIUSSecret(a.RADIUSSecret); a.RADIUSSecret != nil && err != nil {
		return err
	}
	switch {
	case a.RADIUSSecret != nil && len(a.RADIUSSources) == 0:
		return fmt.Errorf("application %s has a RADIUS secret but no source addresses its requests may come from", a.Name)
	case a.RADIUSSecret == nil && len(a.RADIUSSources) > 0:
		return fmt.Errorf("application %s has RADIUS source addresses but no RADIUS secret", a.Name)
	case a.RADIUSSecret == nil && a.RADIUSMode != "" && a.RADIUSMode != ModeOTP:
		return fmt.Errorf("application %s has a RADIUS mode but no RADIUS secret", a.Name)
	case len(a.RADIUSSources) > maxRADIUSSources:
		return fmt.Errorf("application %s has %d RADIUS source prefixes, more than %d", a.Name, len(a.RADIUSSources), maxRADIUSSources)
	}
	for _, p := range a.RADIUSSources {
		if !p.IsValid() {
			return fmt.Errorf("application %s: invalid RADIUS source prefix", a.Name)
		}
	}
	return nil
}

// CheckRADIUSSecret says what is wrong with a RADIUS shared secret.
func CheckRADIUSSecret(secret []byte) error {
	switch {
	case len(secret) < MinRADIUSSecret:
		return fmt.Errorf("a RADIUS secret of %d bytes is too short (at least %d, RFC 2865 §3)", len(secret), MinRADIUSSecret)
	case len(secret) > MaxRADIUSSecret:
		return fmt.Errorf("a RADIUS secret of %d bytes is too long (at most %d)", len(secret), MaxRADIUSSecret)
	}
	return nil
}

func appRow(name string) string { return "application/" + name + "/radius_secret" }

func (s *Store) appKeyHash(key string) []byte {
	return keyedHash(s.hashKey, "keydesk application key", []byte(key))
}

func encodeSources(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Masked().String()
	}
	return strings.Join(out, ",")
}

func decodeSources(name, s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, f := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("application %s: RADIUS source %d is malformed in the inventory: %v", name, i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// AddApplication stores a new application and returns it with its key,
// which is shown once and never again. [ErrExists] if the name is taken.
func (tx *Tx) AddApplication(n NewApplication, by string) (Application, string, error) {
	if err := n.Check(); err != nil {
		return Application{}, "", err
	}
	if err := tx.nameFree("applications", "application", n.Name); err != nil {
		return Application{}, "", err
	}
	s := tx.s
	key, err := newCredential(s.currentKeys().rand, AppKeyPrefix)
	if err != nil {
		return Application{}, "", err
	}
	var sealed []byte
	if n.RADIUSSecret != nil {
		k, err := tx.sealer()
		if err != nil {
			return Application{}, "", err
		}
		if sealed, err = k.sealValue(n.RADIUSSecret, appRow(n.Name)); err != nil {
			return Application{}, "", err
		}
	}
	mode, err := ParseRADIUSMode(string(n.RADIUSMode))
	if err != nil {
		return Application{}, "", err
	}
	a := Application{Name: n.Name, RADIUS: sealed != nil, DetailedReasons: n.DetailedReasons, CreatedBy: by, CreatedAt: tx.now.UTC().Truncate(time.Second)}
	if a.RADIUS {
		a.RADIUSMode = mode
	}
	for _, p := range n.RADIUSSources {
		a.RADIUSSources = append(a.RADIUSSources, p.Masked())
	}
	id, added, err := tx.insert(`INSERT INTO applications(name, key_hash, radius_secret, radius_sources, radius_mode, detailed_reasons, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, n.Name, s.appKeyHash(key), sealed, encodeSources(a.RADIUSSources), string(mode), n.DetailedReasons, by, a.CreatedAt.Unix())
	if err != nil {
		return Application{}, "", err
	}
	if !added {
		return Application{}, "", fmt.Errorf("application %q: %w", n.Name, ErrExists)
	}
	a.ID = id
	return a, key, nil
}

const appColumns = `id, name, radius_secret IS NOT NULL, radius_sources, radius_mode, detailed_reasons, disabled, created_by, created_at`

func scanApp(row interface{ Scan(...any) error }, extra ...any) (Application, error) {
	var a Application
	var sources, mode string
	var created int64
	if err := row.Scan(append([]any{&a.ID, &a.Name, &a.RADIUS, &sources, &mode, &a.DetailedReasons, &a.Disabled, &a.CreatedBy, &created}, extra...)...); err != nil {
		return Application{}, err
	}
	if a.RADIUS {
		a.RADIUSMode = RADIUSMode(mode)
	}
	a.CreatedAt = time.Unix(created, 0).UTC()
	var err error
	a.RADIUSSources, err = decodeSources(a.Name, sources)
	return a, err
}

// ApplicationByKey finds the application a key belongs to, disabled or
// not; [ErrNotFound] if none. Like [Store.AdminByToken], by keyed hash.
func (s *Store) ApplicationByKey(ctx context.Context, key string) (Application, error) {
	if len(key) > maxCredential || !strings.HasPrefix(key, AppKeyPrefix) {
		return Application{}, fmt.Errorf("not an application key: %w", ErrNotFound)
	}
	want := s.appKeyHash(key)
	var stored []byte
	a, err := scanApp(s.db.queryRow(ctx, `SELECT `+appColumns+`, key_hash FROM applications WHERE key_hash = ?`, want), &stored)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !hmac.Equal(stored, want)) {
		return Application{}, fmt.Errorf("no application has this key: %w", ErrNotFound)
	}
	return a, err
}

func getApp(ctx context.Context, q querier, name string) (Application, error) {
	a, err := scanApp(q.queryRow(ctx, `SELECT `+appColumns+` FROM applications WHERE name = ? COLLATE NOCASE`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Application{}, fmt.Errorf("no application named %q: %w", name, ErrNotFound)
	}
	return a, err
}

// Application reads one application by name.
func (s *Store) Application(ctx context.Context, name string) (Application, error) {
	return getApp(ctx, s.db, name)
}

// Application reads one application by name inside the update.
func (tx *Tx) Application(name string) (Application, error) { return getApp(tx.ctx, tx, name) }

// Applications lists applications by name.
func (s *Store) Applications(ctx context.Context) ([]Application, error) {
	rows, err := s.db.query(ctx, `SELECT `+appColumns+` FROM applications ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Application{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RemoveApplication deletes an application: its key and RADIUS secret
// stop working at once. The audit log keeps its history.
func (tx *Tx) RemoveApplication(id int64) error {
	_, err := tx.exec(tx.ctx, `DELETE FROM applications WHERE id = ?`, id)
	return err
}

// RADIUSClient is an application that speaks RADIUS, with its shared
// secret opened. Keep it in memory only.
type RADIUSClient struct {
	Application
	Secret []byte
}

// RADIUSClients reads the enabled applications that have a RADIUS secret,
// with the secrets opened.
func (s *Store) RADIUSClients(ctx context.Context) ([]RADIUSClient, error) {
	rows, err := s.db.query(ctx, `SELECT `+appColumns+`, radius_secret FROM applications
		WHERE radius_secret IS NOT NULL AND disabled = 0 ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RADIUSClient
	for rows.Next() {
		var sealed []byte
		a, err := scanApp(rows, &sealed)
		if err != nil {
			return nil, err
		}
		secret, err := s.currentKeys().openValue(sealed, appRow(a.Name))
		if err != nil {
			return nil, err
		}
		out = append(out, RADIUSClient{Application: a, Secret: secret})
	}
	return out, rows.Err()
}

// resealApplications seals every RADIUS secret again under nk. [Store.Rekey]
// must call it, or the secrets stop opening after a rekey.
func resealApplications(tx *Tx, old, nk *keyring) error {
	return tx.reseal(old, nk, `SELECT id, name, radius_secret FROM applications WHERE radius_secret IS NOT NULL`,
		`UPDATE applications SET radius_secret = ? WHERE id = ?`, func(_ int64, name string) string { return appRow(name) })
}
