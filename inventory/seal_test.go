package inventory_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// TestSecretsNotInFileInClear looks for the seeds in the raw bytes of the
// database and its WAL, both while the store is open and after it closed.
func TestSecretsNotInFileInClear(t *testing.T) {
	fx := newStore(t)
	h := hotpToken("SEAL-1")
	h.Secret = []byte("SEED-MARKER-0123456789-abcdef")
	y := yubicoToken("SEAL-2", "vvccccdefghi")
	y.Secret = []byte("AESKEY-MARKER-16")
	y.PrivateID = []byte("PRIVID")
	fx.update(t, func(tx *inventory.Tx) error {
		if err := tx.AddFob(h, 0, 0); err != nil {
			return err
		}
		return tx.AddFob(y, 0, 0)
	})
	secrets := [][]byte{h.Secret, y.Secret, y.PrivateID}
	look := func(when string) {
		for _, s := range secrets {
			for _, form := range [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s)))} {
				if filesContain(t, fx.path, form) {
					t.Errorf("%s: %q is in the database file in clear", when, form)
				}
			}
		}
	}
	look("open")
	fx.reopen(t, fx.key)
	look("closed and reopened")

	// The secrets are still there, sealed: they open with the key.
	fx.update(t, func(tx *inventory.Tx) error {
		f, err := tx.Fob("SEAL-1")
		if err != nil {
			return err
		}
		if !bytes.Equal(f.Token.Secret, h.Secret) {
			t.Errorf("HOTP secret reads back as %q", f.Token.Secret)
		}
		f, err = tx.Fob("SEAL-2")
		if err != nil {
			return err
		}
		if !bytes.Equal(f.Token.Secret, y.Secret) || !bytes.Equal(f.Token.PrivateID, y.PrivateID) {
			t.Errorf("Yubico key and private id read back as %q, %q", f.Token.Secret, f.Token.PrivateID)
		}
		return nil
	})

	// Reads outside an update never carry secrets.
	f, err := fx.s.Fob(t.Context(), "SEAL-1")
	if err != nil {
		t.Fatal(err)
	}
	if f.Token.Secret != nil || f.Token.PrivateID != nil {
		t.Error("Store.Fob returned secrets")
	}
}

// TestSealedValueMovedDoesNotOpen copies sealed values between rows with
// an outside connection: each must fail to open, never yield the other
// fob's secret.
func TestSealedValueMovedDoesNotOpen(t *testing.T) {
	cases := []struct {
		name, sql, victim string
	}{
		{"secret copied to another HOTP fob",
			`UPDATE fobs SET secret = (SELECT secret FROM fobs WHERE serial = 'A') WHERE serial = 'B'`, "B"},
		{"private id copied to another Yubico fob",
			`UPDATE fobs SET private_id = (SELECT private_id FROM fobs WHERE serial = 'Y1') WHERE serial = 'Y2'`, "Y2"},
		{"secret and private id swapped within a row",
			`UPDATE fobs SET secret = private_id, private_id = secret WHERE serial = 'Y1'`, "Y1"},
		{"serial renamed",
			`UPDATE fobs SET serial = 'A2' WHERE serial = 'A'`, "A2"},
		{"one bit flipped", "flip", "A"},
		{"truncated",
			`UPDATE fobs SET secret = substr(secret, 1, 10) WHERE serial = 'A'`, "A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newStore(t)
			fx.update(t, func(tx *inventory.Tx) error {
				for _, tok := range []fob.Token{hotpToken("A"), hotpToken("B"), yubicoToken("Y1", ""), yubicoToken("Y2", "")} {
					if err := tx.AddFob(tok, 0, 0); err != nil {
						return err
					}
				}
				return nil
			})
			raw := fx.raw(t)
			if c.sql == "flip" {
				var b []byte
				if err := raw.QueryRow(`SELECT secret FROM fobs WHERE serial = 'A'`).Scan(&b); err != nil {
					t.Fatal(err)
				}
				b[20] ^= 1
				mustExec(t, raw, `UPDATE fobs SET secret = ? WHERE serial = 'A'`, b)
			} else {
				mustExec(t, raw, c.sql)
			}
			err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
				f, err := tx.Fob(c.victim)
				if err == nil {
					t.Errorf("fob %s opened with secret %x", c.victim, f.Token.Secret)
				}
				if f.Token.Secret != nil || f.ID != 0 {
					t.Errorf("a failed read returned a partial fob: %+v", f)
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "fob/"+c.victim+"/") {
				t.Errorf("error %v does not name the fob's row", err)
			}
		})
	}
}

func TestAddFobRefusesDuplicatesAndInvalid(t *testing.T) {
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		if err := tx.AddFob(hotpToken("D-1"), 0, 0); err != nil {
			return err
		}
		return tx.AddFob(yubicoToken("D-Y", "vvcccccccccc"), 0, 0)
	})
	for name, tok := range map[string]fob.Token{
		"same serial":    hotpToken("D-1"),
		"same public id": yubicoToken("D-Y2", "VVCCCCCCCCCC"),
	} {
		err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.AddFob(tok, 0, 0) })
		if !errors.Is(err, inventory.ErrExists) || !strings.Contains(err.Error(), "already stored") {
			t.Errorf("%s: %v, want ErrExists", name, err)
		}
	}
	bad := hotpToken("D-2")
	bad.Secret = bad.Secret[:8]
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error { return tx.AddFob(bad, 0, 0) })
	if !errors.Is(err, fob.ErrInvalid) {
		t.Errorf("short seed: %v, want fob.ErrInvalid", err)
	}
	counts, err := fx.s.FobCounts(t.Context())
	if err != nil || counts[inventory.InStock] != 2 || len(counts) != 1 {
		t.Errorf("FobCounts = %v, %v; want 2 in stock", counts, err)
	}
}
