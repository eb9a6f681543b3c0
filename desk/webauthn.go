package desk

// Security keys in the browser (WebAuthn): ceremonies begun here and
// finished here, so that the challenge is issued, taken once, and the
// key's answer judged by verify in one transaction with what it changes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Site is the relying party that keys sign in to through browsers.
type Site struct {
	RPID   string // e.g. "example.edu"
	RPName string // what the browser shows, e.g. "Example University"
	// AppID is the U2F AppID keys registered at the desk over U2F answer
	// under (https://<rp_id> by default); browsers reach them with the
	// appid extension (WebAuthn §10.1.1).
	AppID string
	// Origins are the pages ceremonies may come from.
	Origins []string
	// UserVerification is "required", "preferred" or "discouraged"
	// (WebAuthn §5.8.6); only "required" refuses a key that did not
	// verify its user.
	UserVerification string
	// Timeout is how long a ceremony may take; 2 minutes when zero.
	Timeout time.Duration
}

func (s Site) timeout() time.Duration {
	if s.Timeout <= 0 {
		return 2 * time.Minute
	}
	return s.Timeout
}

// KeyChallenge is a ceremony begun: what the browser is to be asked.
type KeyChallenge struct {
	// Transaction finishes the ceremony; it is shown once, to the caller
	// that began it.
	Transaction string
	Challenge   []byte
	User        inventory.User
	// UserHandle is the user handle (WebAuthn §5.4.3) a registration
	// names the user by: the user's, or one drawn for a user without, to
	// be theirs once the key is stored.
	UserHandle []byte
	// Keys are the keys offered at a login, or excluded at a
	// registration (a key registers once).
	Keys []inventory.Key
	// AppID is set when a key registered over U2F is among Keys: the
	// appid extension at a login, appidExclude at a registration.
	AppID            string
	UserVerification string
	ExpiresAt        time.Time
}

// KeyAnswer is a key's answer to a login, as a browser passes it on.
type KeyAnswer struct {
	CredentialID      []byte
	ClientDataJSON    []byte
	AuthenticatorData []byte
	Signature         []byte
}

// KeyAttestation is a key's answer to a registration, as a browser
// passes it on.
type KeyAttestation struct {
	CredentialID      []byte
	ClientDataJSON    []byte
	AttestationObject []byte
	Transports        []string
}

// BrowserKey is a key registered through a browser, and what its
// attestation said.
type BrowserKey struct {
	Key         inventory.Key      `json:"key"`
	Attestation verify.Attestation `json:"attestation"`
}

// usable reports whether key k can sign in at site: an active CTAP2
// credential of the relying party (registered at the desk or through a
// browser), or a key registered over U2F under the site's AppID.
func (s Site) usable(k *inventory.Key) bool {
	if k.State != inventory.KeyActive {
		return false
	}
	if k.Kind == inventory.KeyCTAP2 {
		return k.RPID == s.RPID
	}
	return s.AppID != "" && k.AppID == s.AppID
}

// UsableKeys lists those of keys that can sign in at the site.
func (s Site) UsableKeys(keys []inventory.Key) []inventory.Key {
	var out []inventory.Key
	for i := range keys {
		if s.usable(&keys[i]) {
			out = append(out, keys[i])
		}
	}
	return out
}

func (d *Desk) bytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(d.rand, b); err != nil {
		return nil, fmt.Errorf("failed to draw a challenge: %w", err)
	}
	return b, nil
}

// BeginKeyLogin begins a login by key for user, to be finished only by
// boundTo ("app:NAME", "session:ID"): a fresh challenge, single use, for
// the site's timeout, offering the user's usable keys (only the key
// with id only, when not zero). A user who cannot sign in by key at all
// (unknown, disabled, locked, no usable key) gets a denial, recorded in
// the authentication log as any decision is, and no ceremony.
func (d *Desk) BeginKeyLogin(ctx context.Context, site Site, user, boundTo string, only int64, from verify.Origin) (KeyChallenge, verify.Decision, error) {
	tx, err := d.token()
	if err != nil {
		return KeyChallenge{}, verify.Decision{}, err
	}
	challenge, err := d.bytes(32)
	if err != nil {
		return KeyChallenge{}, verify.Decision{}, err
	}
	var out KeyChallenge
	var dec verify.Decision
	err = d.update(ctx, func(t *inventory.Tx) error {
		u, denial, err := d.keyUser(t, user)
		if err != nil {
			return err
		}
		if denial != nil {
			dec = verify.Decision{Method: "key", Denial: denial}
			return verify.Record(t, user, from, dec)
		}
		keys, err := t.UserKeys(u.ID)
		if err != nil {
			return err
		}
		c := inventory.Ceremony{Purpose: inventory.CeremonyLogin, UserID: u.ID, BoundTo: boundTo, Challenge: challenge,
			RequireUV: site.UserVerification == "required", ExpiresAt: t.Now().Add(site.timeout())}
		out = KeyChallenge{Transaction: tx, Challenge: challenge, User: u,
			UserVerification: site.UserVerification, ExpiresAt: c.ExpiresAt}
		for _, k := range site.UsableKeys(keys) {
			if only != 0 && k.ID != only {
				continue
			}
			out.Keys = append(out.Keys, k)
			c.KeyIDs = append(c.KeyIDs, k.ID)
			if k.Kind != inventory.KeyCTAP2 {
				c.AppID, out.AppID = site.AppID, site.AppID
			}
		}
		if len(out.Keys) == 0 {
			dec = verify.Decision{Method: "key", Denial: fmt.Errorf("%w: user %s has no active security key for %s", verify.ErrNoKey, u.Name, site.RPID)}
			if only != 0 {
				dec.Denial = fmt.Errorf("%w: key #%d of %s is not an active key for %s", verify.ErrNoKey, only, u.Name, site.RPID)
			}
			return verify.Record(t, u.Name, from, dec)
		}
		return t.AddCeremony(tx, c)
	})
	if err != nil || dec.Denial != nil {
		return KeyChallenge{}, dec, err
	}
	return out, verify.Decision{}, nil
}

// keyUser finds the user a key ceremony is for, or says why they cannot
// use a key now.
func (d *Desk) keyUser(t *inventory.Tx, name string) (inventory.User, error, error) {
	u, err := t.User(name)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return u, fmt.Errorf("%w: no user named %q", verify.ErrUnknownUser, name), nil
	case err != nil:
		return u, nil, err
	case u.Disabled:
		return u, fmt.Errorf("%w: user %s is disabled", verify.ErrUserDisabled, u.Name), nil
	case d.ver.Policy().Locked(u.LockedAt, t.Now()):
		return u, fmt.Errorf("%w: user %s is locked after %d failed passcodes", verify.ErrUserLocked, u.Name, u.FailCount), nil
	}
	return u, nil, nil
}

// ErrNoCeremony is a transaction id that names no ceremony the caller
// began: made up, of another caller, or of the other kind.
var ErrNoCeremony = fmt.Errorf("no such sign-in or registration was begun: %w", inventory.ErrNotFound)

// KeyDecision is a decision on a key's answer, and the user it was for.
type KeyDecision struct {
	verify.Decision
	User string
}

// FinishKeyLogin judges a key's answer to the login transaction begun by
// boundTo, once: the same answer sent again is denied as a replay, a late
// one as too late, a key that is not one the ceremony offered (another
// user's, or none keydesk knows) as no key. A counter that did not grow
// is a denial and an audit entry (a clone?). The decision is recorded in
// the authentication log with what it changed. An error means no
// decision; [ErrNoCeremony] when the transaction is not the caller's.
func (d *Desk) FinishKeyLogin(ctx context.Context, site Site, boundTo, transaction string, a KeyAnswer, from verify.Origin) (KeyDecision, error) {
	var dec verify.Decision
	var user string
	err := d.update(ctx, func(t *inventory.Tx) error {
		c, err := t.TakeCeremony(transaction)
		if errors.Is(err, inventory.ErrNotFound) || c.ID != 0 && (c.BoundTo != boundTo || c.Purpose != inventory.CeremonyLogin) {
			return ErrNoCeremony
		}
		user = c.User
		switch {
		case errors.Is(err, inventory.ErrCeremonyUsed):
			dec = verify.Decision{Method: "key", Denial: fmt.Errorf("%w: this sign-in was finished before; begin a new one", verify.ErrKeyReplay)}
			return verify.Record(t, c.User, from, dec)
		case errors.Is(err, inventory.ErrCeremonyExpired):
			dec = verify.Decision{Method: "key", Denial: fmt.Errorf("%w: the key answered after %s", verify.ErrKeyTimeout, site.timeout())}
			return verify.Record(t, c.User, from, dec)
		case err != nil:
			return err
		}
		if dec, err = d.judgeLogin(t, site, c, a); err != nil {
			return err
		}
		return verify.Record(t, c.User, from, dec)
	})
	if err != nil {
		return KeyDecision{}, err
	}
	return KeyDecision{Decision: dec, User: user}, nil
}

func (d *Desk) judgeLogin(t *inventory.Tx, site Site, c inventory.Ceremony, a KeyAnswer) (verify.Decision, error) {
	if _, denial, err := d.keyUser(t, c.User); err != nil || denial != nil {
		return verify.Decision{Method: "key", Denial: denial}, err
	}
	k, err := t.KeyByCredentialID(a.CredentialID)
	if errors.Is(err, inventory.ErrNotFound) {
		return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: the key that answered is not registered", verify.ErrNoKey)}, nil
	}
	if err != nil {
		return verify.Decision{}, err
	}
	if k.User != c.User {
		return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: the key that answered is not one of %s's", verify.ErrNoKey, c.User)}, nil
	}
	if k.State == inventory.KeyActive && !verify.KeyOffered(c.KeyIDs, k.ID) {
		return verify.Decision{Method: "key", KeyID: k.ID, KeyName: k.Name,
			Denial: fmt.Errorf("%w: key #%d %q was not asked for in this sign-in", verify.ErrNoKey, k.ID, k.Name)}, nil
	}
	dec, use, err := verify.JudgeKeyLogin(&k, verify.KeyLogin{AuthenticatorData: a.AuthenticatorData, Signature: a.Signature,
		ClientDataJSON: a.ClientDataJSON, Challenge: c.Challenge, Origins: site.Origins, RPID: site.RPID, AppID: c.AppID, RequireUV: c.RequireUV})
	switch {
	case err != nil:
		return verify.Decision{}, err
	case dec.Allow:
		if err := t.RecordKeyUse(k.ID, use.SignCount); err != nil {
			return verify.Decision{}, err
		}
		return dec, t.SetKeyBackupState(k.ID, use.BackupState)
	case errors.Is(dec.Denial, verify.ErrCounter):
		return dec, t.Audit(d.actor, "key clone suspected", "user "+c.User, dec.Denial.Error())
	}
	return dec, nil
}

// BeginKeyRegistration begins registering a new key for user through a
// browser, to be finished only by boundTo: a fresh challenge, the user's
// keys to exclude, so that a key registers once, and the user handle. A
// user without one gets a new one, random (WebAuthn §14.6.1), kept with
// the ceremony and made the user's in the update that stores the key, as
// at the desk.
func (d *Desk) BeginKeyRegistration(ctx context.Context, site Site, user, boundTo string) (KeyChallenge, error) {
	tx, err := d.token()
	if err != nil {
		return KeyChallenge{}, err
	}
	challenge, err := d.bytes(32)
	if err != nil {
		return KeyChallenge{}, err
	}
	var out KeyChallenge
	err = d.update(ctx, func(t *inventory.Tx) error {
		u, err := t.User(user)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		keys, err := t.UserKeys(u.ID)
		if err != nil {
			return err
		}
		c := inventory.Ceremony{Purpose: inventory.CeremonyRegister, UserID: u.ID, BoundTo: boundTo, Challenge: challenge,
			RequireUV: site.UserVerification == "required", ExpiresAt: t.Now().Add(site.timeout())}
		handle := u.WebAuthnID
		if handle == nil {
			if handle, err = d.bytes(userHandleSize); err != nil {
				return err
			}
			c.UserHandle = handle
		}
		out = KeyChallenge{Transaction: tx, Challenge: challenge, User: u, UserHandle: handle,
			UserVerification: site.UserVerification, ExpiresAt: c.ExpiresAt}
		for _, k := range keys {
			if k.State != inventory.KeyActive {
				continue
			}
			out.Keys = append(out.Keys, k)
			if k.Kind != inventory.KeyCTAP2 && k.AppID == site.AppID {
				out.AppID = site.AppID
			}
		}
		return t.AddCeremony(tx, c)
	})
	if err != nil {
		return KeyChallenge{}, err
	}
	return out, nil
}

// maxKeyName bounds a key's nickname.
const maxKeyName = 64

// checkKeyName says what is wrong with a key's nickname.
func checkKeyName(name string) error {
	if len(name) > maxKeyName {
		return verify.Refusef("a key's name is at most %d characters", maxKeyName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return verify.Refusef("a key's name cannot hold control characters")
		}
	}
	return nil
}

// FinishKeyRegistration registers the key that answered the registration
// transaction begun by boundTo, once, under the policy p (attestation
// trust, AAGUID lists, user verification), the one the desk registers
// keys under ([KeyRules].Registration); its MDS, when nil, is the BLOB
// last imported, as at the desk. verify decides, the key is stored as a
// CTAP2 credential of the site, as one registered at the desk is, and the
// audit log says so. name is its nickname (its model when empty). A key
// added through a portal link uses the link up (linkID, 0 for none).
func (d *Desk) FinishKeyRegistration(ctx context.Context, site Site, boundTo, transaction string, a KeyAttestation, name string, p verify.RegistrationPolicy, linkID int64) (BrowserKey, error) {
	name = strings.TrimSpace(name)
	if err := checkKeyName(name); err != nil {
		return BrowserKey{}, err
	}
	if p.MDS == nil {
		var err error
		if p.MDS, err = d.MDS(ctx); err != nil {
			return BrowserKey{}, err
		}
	}
	var out BrowserKey
	err := d.update(ctx, func(t *inventory.Tx) error {
		c, err := t.TakeCeremony(transaction)
		if errors.Is(err, inventory.ErrNotFound) || c.ID != 0 && (c.BoundTo != boundTo || c.Purpose != inventory.CeremonyRegister) {
			return ErrNoCeremony
		}
		switch {
		case errors.Is(err, inventory.ErrCeremonyUsed):
			return verify.Refusef("this registration was finished before; begin a new one")
		case errors.Is(err, inventory.ErrCeremonyExpired):
			return verify.Refusef("the key answered after %s; begin the registration again", site.timeout())
		case err != nil:
			return err
		}
		u, err := t.User(c.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		p.RequireUV = p.RequireUV || c.RequireUV
		cred, att, err := verify.CheckWebAuthnRegistration(verify.WebAuthnRegistration{AttestationObject: a.AttestationObject,
			ClientDataJSON: a.ClientDataJSON, Challenge: c.Challenge, Origins: site.Origins, RPID: site.RPID}, p, t.Now())
		if err != nil {
			return err
		}
		if len(a.CredentialID) > 0 && !bytes.Equal(a.CredentialID, cred.ID) {
			return fmt.Errorf("%w: the credential id is not the one in the attestation", verify.ErrMalformedAnswer)
		}
		if name == "" {
			name = or(att.Model, "security key")
		}
		k := inventory.Key{Kind: inventory.KeyCTAP2, Name: name, KeyHandle: cred.ID, COSEKey: cred.PublicKey, Algorithm: cred.Algorithm,
			Counter: cred.SignCount, RPID: site.RPID, Certificate: concat(cred.Chain), AttestationFormat: cred.Format,
			Attestation: att.Result, Model: att.Model, AAGUID: cred.AAGUID.String(), UserVerified: cred.UserVerified,
			BackupEligible: cred.BackupEligible, BackupState: cred.BackupState, Transports: a.Transports}
		if c.UserHandle != nil {
			if err := t.SetUserWebAuthnID(u.ID, c.UserHandle); err != nil {
				return fmt.Errorf("user %s got a user handle while the key was registered; register it again: %w", u.Name, err)
			}
		}
		k, err = t.AddKey(u.ID, k)
		if errors.Is(err, inventory.ErrExists) {
			return fmt.Errorf("%w: the key that answered is registered already", verify.ErrKeyRegistered)
		}
		if err != nil {
			return err
		}
		k.User = u.Name
		if err := useLink(t, linkID); err != nil {
			return err
		}
		out = BrowserKey{Key: k, Attestation: att}
		return t.Audit(d.actor, "key register", "user "+u.Name, fmt.Sprintf("key #%d %q, %s, attestation %s (%s), through a browser for %s",
			k.ID, k.Name, or(att.Model, "unknown model"), att.Result, cred.Format, site.RPID))
	})
	if err != nil {
		return BrowserKey{}, err
	}
	return out, nil
}

// RenameKey gives one of user's keys a new nickname.
func (d *Desk) RenameKey(ctx context.Context, user string, id int64, name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return verify.Refusef("a key's name cannot be empty")
	}
	if err := checkKeyName(name); err != nil {
		return err
	}
	return d.keyChange(ctx, user, id, func(t *inventory.Tx, k inventory.Key) (string, string, error) {
		return "key rename", fmt.Sprintf("key #%d %q is now %q", k.ID, k.Name, name), t.RenameKey(k.ID, name)
	})
}

// ReportKeyLost disables one of user's keys at once; it stays on record,
// and a sign-in with it is denied as lost.
func (d *Desk) ReportKeyLost(ctx context.Context, user string, id int64) error {
	return d.keyChange(ctx, user, id, func(t *inventory.Tx, k inventory.Key) (string, string, error) {
		if k.State != inventory.KeyActive {
			return "", "", fmt.Errorf("%w: key #%d %q is %s already", ErrState, k.ID, k.Name, k.State)
		}
		return "key lost", fmt.Sprintf("key #%d %q", k.ID, k.Name), t.SetKeyState(k.ID, inventory.KeyLost)
	})
}

func (d *Desk) keyChange(ctx context.Context, user string, id int64, change func(t *inventory.Tx, k inventory.Key) (action, detail string, err error)) error {
	return d.update(ctx, func(t *inventory.Tx) error {
		u, err := t.User(user)
		if err != nil {
			return err
		}
		k, err := t.UserKey(u.ID, fmt.Sprint(id))
		if err != nil || k.ID != id {
			return fmt.Errorf("user %s: no key #%d: %w", u.Name, id, inventory.ErrNotFound)
		}
		action, detail, err := change(t, k)
		if err != nil {
			return err
		}
		return t.Audit(d.actor, action, "user "+u.Name, detail)
	})
}
