package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
)

// Authenticator is what keydesk asks of a U2F key; hid.Client is the real
// one.
type Authenticator interface {
	Register(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte) (*u2f.Registration, error)
	Authenticate(ctx context.Context, challengeParam, appParam [u2f.ParamSize]byte, keyHandle []byte) (*u2f.Authentication, error)
	CheckKeyHandle(ctx context.Context, appParam [u2f.ParamSize]byte, keyHandle []byte) (bool, error)
}

// KeyPolicy is how keys are registered and tested.
type KeyPolicy struct {
	AppID string
	Trust *TrustStore
	// RequireTrusted refuses keys whose attestation does not chain to a
	// trusted root; by default the result is only recorded.
	RequireTrusted bool
	Rand           io.Reader
}

// KeyRegistration is what registering found.
type KeyRegistration struct {
	Key         inventory.Key
	Attestation Attestation
}

// RegisterKey registers the key dev to user: it refuses a key already
// registered to anyone, asks the key to register against a fresh random
// challenge (the key waits for a touch), checks the registration signature
// with the attestation certificate, and stores the key.
func (v *Verifier) RegisterKey(ctx context.Context, dev Authenticator, user, name string, p KeyPolicy, actor string) (KeyRegistration, error) {
	if p.Rand == nil {
		p.Rand = rand.Reader
	}
	u, err := v.store.User(ctx, user)
	if err != nil {
		return KeyRegistration{}, err
	}
	if u.Disabled {
		return KeyRegistration{}, Refusef("user %s is disabled", user)
	}
	app := AppParam(p.AppID)
	known, err := v.store.RegisteredKeys(ctx, p.AppID)
	if err != nil {
		return KeyRegistration{}, err
	}
	// U2F §5.2: a check-only authentication tells whether the key made a
	// handle, without a touch; this is how a key is recognised.
	for _, k := range known {
		mine, err := dev.CheckKeyHandle(ctx, app, k.KeyHandle)
		if err != nil {
			return KeyRegistration{}, fmt.Errorf("asking the key about registered handles: %w", err)
		}
		if mine {
			return KeyRegistration{}, fmt.Errorf("%w: this key is registered to %s as %q (key #%d)", ErrKeyRegistered, k.User, k.Name, k.ID)
		}
	}
	var challenge [u2f.ParamSize]byte
	if _, err := io.ReadFull(p.Rand, challenge[:]); err != nil {
		return KeyRegistration{}, err
	}
	reg, err := dev.Register(ctx, challenge, app)
	if err != nil {
		return KeyRegistration{}, err
	}
	att, err := CheckRegistration(reg, app, challenge, p.Trust, v.store.Now())
	if err != nil {
		return KeyRegistration{}, err
	}
	if p.RequireTrusted && !att.Trusted() {
		return KeyRegistration{}, fmt.Errorf("%w: %s (issuer %s); the policy requires a trusted attestation", ErrUntrusted, att.Result, att.Issuer)
	}
	if name == "" {
		name = att.Model
	}
	k := inventory.Key{Name: name, KeyHandle: reg.KeyHandle, PublicKey: reg.PublicKey, AppID: p.AppID,
		Certificate: reg.Certificate, Attestation: att.Result, Model: att.Model, AAGUID: att.AAGUID}
	err = v.store.Update(ctx, func(tx *inventory.Tx) error {
		if k, err = tx.AddKey(u.ID, k); err != nil {
			return err
		}
		k.User = u.Name
		return tx.Audit(actor, "key register", "user "+u.Name, fmt.Sprintf("key #%d %q, %s, attestation %s", k.ID, k.Name, att.Model, att.Result))
	})
	if err != nil {
		return KeyRegistration{}, err
	}
	return KeyRegistration{Key: k, Attestation: att}, nil
}

// CheckRegistration verifies a U2F registration (FIDO U2F raw message
// format §4.3): the attestation key signed 0x00 || app || challenge ||
// key handle || user public key. It returns what the attestation says.
func CheckRegistration(reg *u2f.Registration, app, challenge [u2f.ParamSize]byte, ts *TrustStore, now time.Time) (Attestation, error) {
	att, cert, err := CheckAttestation(reg.Certificate, ts, now)
	if err != nil {
		return Attestation{}, err
	}
	if _, err := parseU2FPublicKey(reg.PublicKey); err != nil {
		return Attestation{}, err
	}
	if err := verifyES256(cert.PublicKey.(*ecdsa.PublicKey), reg.SignedData(app, challenge), reg.Signature); err != nil {
		return Attestation{}, fmt.Errorf("registration %w with the attestation certificate", err)
	}
	return att, nil
}

// KeyTest is which key answered an authentication, and its new counter.
type KeyTest struct {
	Key     inventory.Key
	Counter uint32
}

// TestKey authenticates a user with the key plugged in: it finds which of
// the user's keys it is (check-only, no touch), asks for a touch, checks
// the signature with the stored public key, and requires the counter to
// have grown. A counter that did not grow is refused and audited: two keys
// answering with one key's secret is what a clone looks like.
func (v *Verifier) TestKey(ctx context.Context, dev Authenticator, user string, p KeyPolicy, actor string) (KeyTest, error) {
	if p.Rand == nil {
		p.Rand = rand.Reader
	}
	u, err := v.store.User(ctx, user)
	if err != nil {
		return KeyTest{}, err
	}
	keys, err := v.store.UserKeys(ctx, user)
	if err != nil {
		return KeyTest{}, err
	}
	app := AppParam(p.AppID)
	var key *inventory.Key
	for i := range keys {
		k := &keys[i]
		if k.State != inventory.KeyActive || k.AppID != p.AppID {
			continue
		}
		mine, err := dev.CheckKeyHandle(ctx, app, k.KeyHandle)
		if err != nil {
			return KeyTest{}, fmt.Errorf("asking the key about its handles: %w", err)
		}
		if mine {
			key = k
			break
		}
	}
	if key == nil {
		return KeyTest{}, fmt.Errorf("%w: the key plugged in is none of the %d key(s) registered to %s", ErrNoKey, len(keys), user)
	}
	var challenge [u2f.ParamSize]byte
	if _, err := io.ReadFull(p.Rand, challenge[:]); err != nil {
		return KeyTest{}, err
	}
	auth, err := dev.Authenticate(ctx, challenge, app, key.KeyHandle)
	if err != nil {
		return KeyTest{}, err
	}
	var out KeyTest
	var refusal error // a refusal whose audit entry must still be committed
	err = v.store.Update(ctx, func(tx *inventory.Tx) error {
		// Re-read the key under the write lock: the counter check and its
		// update must be one step, or two racing tests could both pass.
		current, err := tx.UserKey(u.ID, fmt.Sprint(key.ID))
		if err != nil {
			return err
		}
		if err := CheckAuthentication(&current, auth, app, challenge); err != nil {
			if errors.Is(err, ErrCounter) {
				if aerr := tx.Audit(actor, "key clone suspected", "user "+user,
					fmt.Sprintf("key #%d %q answered with counter %d, last seen %d", current.ID, current.Name, auth.Counter, current.Counter)); aerr != nil {
					return aerr
				}
				refusal = err
				return nil
			}
			return err
		}
		if err := tx.RecordKeyUse(current.ID, auth.Counter); err != nil {
			return err
		}
		current.Counter = auth.Counter
		out = KeyTest{Key: current, Counter: auth.Counter}
		return nil
	})
	if err == nil && refusal != nil {
		return KeyTest{}, refusal
	}
	return out, err
}

// CheckAuthentication verifies a U2F authentication (raw message format
// §5.4): the key signed app || flags || counter || challenge, the user was
// present, and the counter grew past the stored one.
func CheckAuthentication(k *inventory.Key, auth *u2f.Authentication, app, challenge [u2f.ParamSize]byte) error {
	pub, err := parseU2FPublicKey(k.PublicKey)
	if err != nil {
		return err
	}
	if err := verifyES256(pub, auth.SignedData(app, challenge), auth.Signature); err != nil {
		return fmt.Errorf("authentication %w with key #%d's public key", err, k.ID)
	}
	if !auth.UserPresent() {
		return ErrNoPresence
	}
	if auth.Counter <= k.Counter {
		return fmt.Errorf("%w (key #%d %q answered %d, last seen %d)", ErrCounter, k.ID, k.Name, auth.Counter, k.Counter)
	}
	return nil
}
