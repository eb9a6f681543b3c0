package desk

// Security keys at the desk: registration and the test a user makes on
// the spot, over the key plugged in. A key that speaks CTAP2 is
// registered as a WebAuthn credential of the institution's relying party;
// a U2F-only key under the U2F AppID https://<rp_id>, which browsers reach
// through WebAuthn's appid extension (WebAuthn §10.1.1).

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// Authenticator is what the desk asks of a U2F key; hid.Client is the
// real one, a soft key behind a pipe the tests' one.
type Authenticator interface {
	Register(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte) (*u2f.Registration, error)
	Authenticate(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte, keyHandle []byte) (*u2f.Authentication, error)
	CheckKeyHandle(ctx context.Context, appParam [u2f.ParamSize]byte, keyHandle []byte) (bool, error)
}

// CTAP2Authenticator is what the desk asks of a CTAP2 key (CTAP 2.1);
// hid.Client is the real one.
type CTAP2Authenticator interface {
	GetInfo(ctx context.Context) (*u2f.AuthenticatorInfo, error)
	MakeCredential(ctx context.Context, req *u2f.MakeCredentialRequest, tok *u2f.PINToken) (*u2f.Attestation, error)
	GetAssertion(ctx context.Context, req *u2f.GetAssertionRequest, tok *u2f.PINToken) (*u2f.Assertion, error)
	PINTokenWithPermissions(ctx context.Context, pin string, perms u2f.Permission, rpID string) (*u2f.PINToken, error)
	Reset(ctx context.Context) error
}

// Device is the security key plugged in, as the desk talks to it: over
// U2F, over CTAP2, or both, as the key's CTAPHID INIT answer announced.
type Device struct {
	U2F   Authenticator      // nil when the key does not speak U2F
	CTAP2 CTAP2Authenticator // nil when the key does not speak CTAP2
	// PIN is asked for the key's PIN when, and only when, the key or the
	// rules need it; it returns "" when there is none to give. Nil: no
	// PIN can be given.
	PIN func() (string, error)
}

// ErrPINRequired is returned when the key wants its PIN (it has one, or
// the rules require user verification) and none was given.
var ErrPINRequired = errors.New("the key has a PIN and needs it, but none was given")

// ErrNoPIN is returned when the rules require a PIN and the key has none
// yet.
var ErrNoPIN = verify.Refusef("the rules require a PIN, and the key has none: set one first (keydesk key pin set)")

// KeyRules are the rules a key is registered and tested under.
type KeyRules struct {
	// RPID is the relying party keys are registered for: the domain of
	// the institution's logins, e.g. "example.edu". Empty: keys are
	// registered over U2F under AppID only, as keydesk did before CTAP2.
	RPID string
	// Origin is the origin the client data names; "https://"+RPID when
	// empty.
	Origin string
	// AppID is the U2F AppID of U2F-only keys; "https://"+RPID when
	// empty.
	AppID string
	// RequirePIN: the key must verify its user with its PIN (UV) at
	// registration, and at a test.
	RequirePIN bool
	// Registration is what verify requires of an attestation: trust,
	// RequireTrusted, the AAGUID lists. Its RequireUV is RequirePIN, and
	// its MDS, when nil, is the BLOB last imported into the inventory.
	Registration verify.RegistrationPolicy
}

func (r KeyRules) appID() string {
	if r.AppID != "" {
		return r.AppID
	}
	if r.RPID == "" {
		return ""
	}
	return "https://" + r.RPID
}

func (r KeyRules) origin(rpID string) string {
	if r.Origin != "" && rpID == r.RPID {
		return r.Origin
	}
	if rpID == "" {
		return r.appID() // a U2F registration under AppID alone
	}
	return "https://" + rpID
}

// KeyRequest is a registration the clerk asks for.
type KeyRequest struct {
	User string
	Name string // the key's nickname; its model when empty
	// Resident asks for a discoverable credential (CTAP2 "rk"): the key
	// keeps the user's account, for logins without a user name.
	Resident bool
}

// KeyRegistration is what registering found.
type KeyRegistration struct {
	Key         inventory.Key
	Attestation verify.Attestation

	userHandle []byte // a user handle made for this registration, to store with it
}

// RegisterKey registers the key dev to the user: over CTAP2 for
// rules.RPID when the key speaks it, otherwise over U2F under the AppID.
// It refuses a key that already holds a registration of anyone's, makes
// the key attest a new credential over a fresh challenge (the key waits
// for a touch), has verify judge the attestation under the rules, and
// stores the key with its audit entry.
func (d *Desk) RegisterKey(ctx context.Context, dev Device, req KeyRequest, rules KeyRules) (KeyRegistration, error) {
	u, err := d.store.User(ctx, req.User)
	if err != nil {
		return KeyRegistration{}, err
	}
	if u.Disabled {
		return KeyRegistration{}, verify.Refusef("user %s is disabled", req.User)
	}
	if rules.appID() == "" {
		return KeyRegistration{}, errors.New("no relying party to register the key for: name one (e.g. example.edu)")
	}
	known, err := d.store.ActiveKeys(ctx)
	if err != nil {
		return KeyRegistration{}, err
	}
	if dev.U2F != nil {
		if err := refuseKnownU2F(ctx, dev.U2F, known); err != nil {
			return KeyRegistration{}, err
		}
	}
	if rules.Registration.MDS == nil {
		if rules.Registration.MDS, err = d.MDS(ctx); err != nil {
			return KeyRegistration{}, err
		}
	}
	rules.Registration.RequireUV = rules.RequirePIN
	var reg KeyRegistration
	switch {
	case dev.CTAP2 != nil && rules.RPID != "":
		reg, err = d.registerCTAP2(ctx, dev, u, req, rules, known)
	case dev.U2F != nil:
		if req.Resident {
			return KeyRegistration{}, verify.Refusef("a U2F-only key cannot keep a resident credential")
		}
		reg, err = d.registerU2F(ctx, dev.U2F, u, rules)
	case dev.CTAP2 != nil:
		return KeyRegistration{}, errors.New("the key speaks CTAP2 only, which needs the relying party (rp id) to register for")
	default:
		return KeyRegistration{}, errors.New("the key speaks neither U2F nor CTAP2")
	}
	if err != nil {
		return KeyRegistration{}, err
	}
	if req.Name != "" {
		reg.Key.Name = req.Name
	}
	if reg.Key.Name == "" {
		reg.Key.Name = or(reg.Attestation.Model, "security key")
	}
	return d.storeKey(ctx, u, reg)
}

// storeKey adds the registration, and the user's WebAuthn user handle
// if this is the first, with the audit entry.
func (d *Desk) storeKey(ctx context.Context, u inventory.User, reg KeyRegistration) (KeyRegistration, error) {
	k, att := reg.Key, reg.Attestation
	how := "U2F under AppID " + k.AppID
	if k.Kind == inventory.KeyCTAP2 {
		how = "CTAP2 for " + k.RPID
		if k.Resident {
			how += ", resident"
		}
	}
	if k.UserVerified {
		how += ", PIN verified"
	}
	err := d.update(ctx, func(tx *inventory.Tx) error {
		if reg.userHandle != nil {
			if err := tx.SetUserWebAuthnID(u.ID, reg.userHandle); err != nil {
				return fmt.Errorf("user %s got a user handle while the key was registered; register it again: %w", u.Name, err)
			}
		}
		var err error
		if k, err = tx.AddKey(u.ID, k); err != nil {
			return err
		}
		k.User = u.Name
		return tx.Audit(d.actor, "key register", "user "+u.Name,
			fmt.Sprintf("key #%d %q, %s, %s, attestation %s", k.ID, k.Name, or(att.Model, "unknown model"), how, att.Result))
	})
	if err != nil {
		return KeyRegistration{}, err
	}
	return KeyRegistration{Key: k, Attestation: att}, nil
}

// refuseKnownU2F asks the key, with U2F's check-only authentication (U2F
// raw message formats §5.1, no touch), whether it made any registered
// U2F key handle, under that key's own AppID.
func refuseKnownU2F(ctx context.Context, dev Authenticator, known []inventory.Key) error {
	for _, k := range known {
		if k.Kind != inventory.KeyU2F {
			continue
		}
		mine, err := dev.CheckKeyHandle(ctx, verify.AppParam(k.AppID), k.KeyHandle)
		if err != nil {
			return fmt.Errorf("asking the key about registered handles: %w", err)
		}
		if mine {
			return registeredTo(k)
		}
	}
	return nil
}

func registeredTo(k inventory.Key) error {
	return fmt.Errorf("%w: this key is registered to %s as %q (key #%d)", verify.ErrKeyRegistered, k.User, k.Name, k.ID)
}

func (d *Desk) challenge() ([u2f.ParamSize]byte, error) {
	var c [u2f.ParamSize]byte
	if _, err := io.ReadFull(d.rand, c[:]); err != nil {
		return c, fmt.Errorf("failed to draw a challenge: %w", err)
	}
	return c, nil
}

// TestKey checks that the key plugged in is one of user's and works: it
// finds which of the user's keys it is (U2F check-only, or the CTAP2
// credentials of each relying party), asks for a touch, and lets verify
// judge the answer. The answer is a decision, as a code's is: a key that
// is not the user's, a bad signature or a counter that did not grow is a
// denial. A counter that did not grow is also an audit entry: two keys
// answering with one key's secret is what a clone looks like. An error
// means no decision was made.
func (d *Desk) TestKey(ctx context.Context, dev Device, user string, rules KeyRules, from verify.Origin) (verify.Decision, error) {
	dec, err := d.testKey(ctx, dev, user, rules, from)
	if err != nil || dec.Allow || errors.Is(dec.Denial, verify.ErrCounter) {
		return dec, err // an allow and a clone were logged with their own changes
	}
	return dec, d.update(ctx, func(tx *inventory.Tx) error { return verify.Record(tx, user, from, dec) })
}

func (d *Desk) testKey(ctx context.Context, dev Device, user string, rules KeyRules, from verify.Origin) (verify.Decision, error) {
	u, err := d.store.User(ctx, user)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: no user named %q", verify.ErrUnknownUser, user)}, nil
	case err != nil:
		return verify.Decision{}, err
	case u.Disabled:
		return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: user %s is disabled", verify.ErrUserDisabled, user)}, nil
	}
	keys, err := d.store.UserKeys(ctx, user)
	if err != nil {
		return verify.Decision{}, err
	}
	var u2fKeys, ctap2Keys []inventory.Key
	for _, k := range keys {
		switch {
		case k.State != inventory.KeyActive:
		case k.Kind == inventory.KeyCTAP2:
			ctap2Keys = append(ctap2Keys, k)
		default:
			u2fKeys = append(u2fKeys, k)
		}
	}
	if dev.U2F != nil {
		key, err := findU2F(ctx, dev.U2F, u2fKeys)
		if err != nil {
			return verify.Decision{}, err
		}
		if key != nil {
			return d.testU2F(ctx, dev.U2F, u, *key, from)
		}
	}
	if dev.CTAP2 != nil && len(ctap2Keys) > 0 {
		dec, found, err := d.testCTAP2(ctx, dev, u, ctap2Keys, rules, from)
		if err != nil || found {
			return dec, err
		}
	}
	active := len(u2fKeys) + len(ctap2Keys)
	return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: the key plugged in is none of the %d active key(s) registered to %s", verify.ErrNoKey, active, user)}, nil
}

// judged records a key's decision in the update that stores its use: the
// new counter on an allow, an audit entry on a suspected clone.
func (d *Desk) judged(tx *inventory.Tx, u inventory.User, k inventory.Key, counter uint32, from verify.Origin, dec verify.Decision) error {
	if errors.Is(dec.Denial, verify.ErrCounter) {
		if err := tx.Audit(d.actor, "key clone suspected", "user "+u.Name,
			fmt.Sprintf("key #%d %q answered with counter %d, last seen %d", k.ID, k.Name, counter, k.Counter)); err != nil {
			return err
		}
		return verify.Record(tx, u.Name, from, dec)
	}
	if !dec.Allow {
		return nil
	}
	if err := tx.RecordKeyUse(k.ID, counter); err != nil {
		return err
	}
	return verify.Record(tx, u.Name, from, dec)
}

// RemoveKey takes a user's security key out of use; it stays on record.
func (d *Desk) RemoveKey(ctx context.Context, user, ref string) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		k, err := tx.UserKey(u.ID, ref)
		if err != nil {
			return fmt.Errorf("user %s: %w", user, err)
		}
		if err := tx.SetKeyState(k.ID, inventory.KeyRemoved); err != nil {
			return err
		}
		return tx.Audit(d.actor, "key remove", "user "+user, fmt.Sprintf("key #%d %q", k.ID, k.Name))
	})
}

// Keys lists a user's security keys that are not removed: active and lost.
func (d *Desk) Keys(ctx context.Context, user string) ([]inventory.Key, error) {
	if _, err := d.store.User(ctx, user); err != nil {
		return nil, err
	}
	return nonNil(d.store.UserKeys(ctx, user))
}
