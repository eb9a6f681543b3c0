package desk

// What erases credentials on a key: a reset, and the deletion of one
// resident credential. The registrations the key held stop working at
// once, so the inventory marks them removed in the same step.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

// KeyReset is what a reset erased.
type KeyReset struct {
	// Removed are the registrations the key held, now marked removed.
	Removed []inventory.Key
	// Unknown is set when the key could not be asked which it held (a
	// key with alwaysUv answers no silent question); registrations of it
	// may remain in the inventory, and fail their next test.
	Unknown bool
}

// ResetKey erases the key (CTAP 2.1 §6.6): every credential and the PIN.
// First it asks the key, silently, which registrations of the inventory
// it holds; after the reset those are marked removed, with one audit
// entry. Real keys take a reset only within seconds of being plugged in,
// and with a touch ([u2f.ErrNotAllowed] otherwise); then nothing changes.
func (d *Desk) ResetKey(ctx context.Context, dev Device) (KeyReset, error) {
	if dev.CTAP2 == nil {
		return KeyReset{}, fmt.Errorf("the key does not speak CTAP2, which has the reset")
	}
	info, err := dev.CTAP2.GetInfo(ctx)
	if err != nil {
		return KeyReset{}, err
	}
	held, unknown, err := d.heldBy(ctx, dev, info)
	if err != nil {
		return KeyReset{}, err
	}
	if err := dev.CTAP2.Reset(ctx); err != nil {
		return KeyReset{}, err
	}
	var names []string
	for _, k := range held {
		names = append(names, fmt.Sprintf("key #%d %q of %s", k.ID, k.Name, k.User))
	}
	detail := "no registration of the inventory was on it"
	if len(names) > 0 {
		detail = "registrations erased and marked removed: " + strings.Join(names, ", ")
	}
	if unknown {
		detail += "; the key could not say which registrations it held"
	}
	err = d.update(ctx, func(tx *inventory.Tx) error {
		for _, k := range held {
			if err := tx.SetKeyState(k.ID, inventory.KeyRemoved); err != nil {
				return err
			}
		}
		return tx.Audit(d.actor, "key reset", "key "+info.AAGUID.String(), detail)
	})
	if err != nil {
		return KeyReset{}, fmt.Errorf("the key was reset, but the inventory was not told: %w", err)
	}
	return KeyReset{Removed: held, Unknown: unknown}, nil
}

// heldBy finds the active registrations the key holds, without a touch:
// U2F check-only for U2F keys, silent assertions for CTAP2 credentials,
// relying party by relying party. unknown is set when the key would not
// answer a silent assertion.
func (d *Desk) heldBy(ctx context.Context, dev Device, info *u2f.AuthenticatorInfo) (held []inventory.Key, unknown bool, err error) {
	known, err := d.store.ActiveKeys(ctx)
	if err != nil {
		return nil, false, err
	}
	var rps []string
	for _, k := range known {
		switch {
		case k.Kind == inventory.KeyCTAP2:
			if !contains(rps, k.RPID) {
				rps = append(rps, k.RPID)
			}
		case dev.U2F != nil:
			mine, err := dev.U2F.CheckKeyHandle(ctx, verify.AppParam(k.AppID), k.KeyHandle)
			if err != nil {
				return nil, false, fmt.Errorf("asking the key about its handles: %w", err)
			}
			if mine {
				held = append(held, k)
			}
		}
	}
	for _, rp := range rps {
		creds := credentialsOf(known, rp, info)
		// One at a time: a probe names one credential of its list.
		for len(creds) > 0 {
			id, err := probeCredentials(ctx, dev.CTAP2, info, rp, creds)
			if err != nil {
				unknown = true
				break
			}
			if id == nil {
				break
			}
			rest := creds[:0:0]
			for _, c := range creds {
				if string(c.ID) == string(id) {
					continue
				}
				rest = append(rest, c)
			}
			creds = rest
			for _, k := range known {
				if k.Kind == inventory.KeyCTAP2 && k.RPID == rp && string(k.KeyHandle) == string(id) {
					held = append(held, k)
				}
			}
		}
	}
	return held, unknown, nil
}

// CredentialDeleter deletes a resident credential (CTAP 2.1 §6.8.5);
// hid.Client is one.
type CredentialDeleter interface {
	DeleteCredential(ctx context.Context, tok *u2f.PINToken, credentialID []byte) error
}

// DeleteResidentCredential deletes a resident credential from the key,
// with tok (permission cm), and marks its registration removed if the
// inventory has it, with the audit entry. It returns that registration,
// or a zero Key when the inventory did not know the credential.
func (d *Desk) DeleteResidentCredential(ctx context.Context, dev CredentialDeleter, tok *u2f.PINToken, id []byte) (inventory.Key, error) {
	k, err := d.store.KeyByCredentialID(ctx, id)
	known := err == nil
	if err != nil && !errors.Is(err, inventory.ErrNotFound) {
		return inventory.Key{}, err
	}
	if err := dev.DeleteCredential(ctx, tok, id); err != nil {
		return inventory.Key{}, err
	}
	if !known || k.State == inventory.KeyRemoved {
		return k, nil
	}
	err = d.update(ctx, func(tx *inventory.Tx) error {
		if err := tx.SetKeyState(k.ID, inventory.KeyRemoved); err != nil {
			return err
		}
		return tx.Audit(d.actor, "key remove", "user "+k.User, fmt.Sprintf("key #%d %q: its resident credential was deleted from the key", k.ID, k.Name))
	})
	if err != nil {
		return inventory.Key{}, fmt.Errorf("the credential was deleted from the key, but the inventory was not told: %w", err)
	}
	return k, nil
}

// KeyOfCredential finds the registration, of any user and state, whose
// credential id is id; [inventory.ErrNotFound] if there is none.
func (d *Desk) KeyOfCredential(ctx context.Context, id []byte) (inventory.Key, error) {
	return d.store.KeyByCredentialID(ctx, id)
}
