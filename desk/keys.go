package desk

// Security keys at the desk: registration and the test a user makes on
// the spot, over the key plugged in.

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

// KeyRegistration is what registering found.
type KeyRegistration struct {
	Key         inventory.Key
	Attestation verify.Attestation
}

// RegisterKey registers the key dev to user: it refuses a key already
// registered to anyone, asks the key to register against a fresh random
// challenge (the key waits for a touch), has verify check the signature
// and the attestation under the policy, and stores the key.
func (d *Desk) RegisterKey(ctx context.Context, dev Authenticator, user, name string, p verify.KeyPolicy) (KeyRegistration, error) {
	u, err := d.store.User(ctx, user)
	if err != nil {
		return KeyRegistration{}, err
	}
	if u.Disabled {
		return KeyRegistration{}, verify.Refusef("user %s is disabled", user)
	}
	app := verify.AppParam(p.AppID)
	known, err := d.store.RegisteredKeys(ctx, p.AppID)
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
			return KeyRegistration{}, fmt.Errorf("%w: this key is registered to %s as %q (key #%d)", verify.ErrKeyRegistered, k.User, k.Name, k.ID)
		}
	}
	challenge, err := d.challenge()
	if err != nil {
		return KeyRegistration{}, err
	}
	reg, err := dev.Register(ctx, challenge, app)
	if err != nil {
		return KeyRegistration{}, err
	}
	att, err := verify.CheckRegistration(reg, app, challenge, p.Trust, d.store.Now())
	if err != nil {
		return KeyRegistration{}, err
	}
	if err := p.Admit(att); err != nil {
		return KeyRegistration{}, err
	}
	if name == "" {
		name = att.Model
	}
	k := inventory.Key{Name: name, KeyHandle: reg.KeyHandle, PublicKey: reg.PublicKey, AppID: p.AppID,
		Certificate: reg.Certificate, Attestation: att.Result, Model: att.Model, AAGUID: att.AAGUID}
	err = d.update(ctx, func(tx *inventory.Tx) error {
		if k, err = tx.AddKey(u.ID, k); err != nil {
			return err
		}
		k.User = u.Name
		return tx.Audit(d.actor, "key register", "user "+u.Name, fmt.Sprintf("key #%d %q, %s, attestation %s", k.ID, k.Name, att.Model, att.Result))
	})
	if err != nil {
		return KeyRegistration{}, err
	}
	return KeyRegistration{Key: k, Attestation: att}, nil
}

func (d *Desk) challenge() ([u2f.ParamSize]byte, error) {
	var c [u2f.ParamSize]byte
	if _, err := io.ReadFull(d.rand, c[:]); err != nil {
		return c, fmt.Errorf("failed to draw a challenge: %w", err)
	}
	return c, nil
}

// TestKey checks that the key plugged in is one of user's and works: it
// finds which of the user's keys it is (check-only, no touch), asks for a
// touch, and lets verify judge the answer. The answer is a decision, as a
// code's is: a key that is not the user's, a bad signature or a counter
// that did not grow is a denial. A counter that did not grow is also an
// audit entry: two keys answering with one key's secret is what a clone
// looks like. An error means no decision was made.
func (d *Desk) TestKey(ctx context.Context, dev Authenticator, user string, p verify.KeyPolicy, from verify.Origin) (verify.Decision, error) {
	dec, err := d.testKey(ctx, dev, user, p, from)
	if err != nil || dec.Allow || errors.Is(dec.Denial, verify.ErrCounter) {
		return dec, err // an allow and a clone were logged with their own changes
	}
	return dec, d.update(ctx, func(tx *inventory.Tx) error { return verify.Record(tx, user, from, dec) })
}

func (d *Desk) testKey(ctx context.Context, dev Authenticator, user string, p verify.KeyPolicy, from verify.Origin) (verify.Decision, error) {
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
	app := verify.AppParam(p.AppID)
	var key *inventory.Key
	active := 0
	for i := range keys {
		k := &keys[i]
		if k.State != inventory.KeyActive || k.AppID != p.AppID {
			continue
		}
		active++
		mine, err := dev.CheckKeyHandle(ctx, app, k.KeyHandle)
		if err != nil {
			return verify.Decision{}, fmt.Errorf("asking the key about its handles: %w", err)
		}
		if mine {
			key = k
			break
		}
	}
	if key == nil {
		return verify.Decision{Method: "key", Denial: fmt.Errorf("%w: the key plugged in is none of the %d active key(s) registered to %s", verify.ErrNoKey, active, user)}, nil
	}
	challenge, err := d.challenge()
	if err != nil {
		return verify.Decision{}, err
	}
	auth, err := dev.Authenticate(ctx, challenge, app, key.KeyHandle)
	if err != nil {
		return verify.Decision{}, err
	}
	var dec verify.Decision
	err = d.update(ctx, func(tx *inventory.Tx) error {
		// Re-read the key under the write lock: the counter check and its
		// update must be one step, or two racing tests could both pass.
		current, err := tx.UserKey(u.ID, fmt.Sprint(key.ID))
		if err != nil {
			return err
		}
		if dec, err = verify.JudgeKey(&current, auth, app, challenge); err != nil {
			return err
		}
		if errors.Is(dec.Denial, verify.ErrCounter) {
			if err := tx.Audit(d.actor, "key clone suspected", "user "+user,
				fmt.Sprintf("key #%d %q answered with counter %d, last seen %d", current.ID, current.Name, auth.Counter, current.Counter)); err != nil {
				return err
			}
			return verify.Record(tx, u.Name, from, dec)
		}
		if !dec.Allow {
			return nil
		}
		if err := tx.RecordKeyUse(current.ID, auth.Counter); err != nil {
			return err
		}
		return verify.Record(tx, u.Name, from, dec)
	})
	if err != nil {
		return verify.Decision{}, err
	}
	return dec, nil
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

// Keys lists a user's security keys, removed and lost ones too.
func (d *Desk) Keys(ctx context.Context, user string) ([]inventory.Key, error) {
	if _, err := d.store.User(ctx, user); err != nil {
		return nil, err
	}
	return nonNil(d.store.UserKeys(ctx, user))
}
