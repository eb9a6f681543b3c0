package inventory_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keydesk/keydesk/inventory"
)

// A U2F key registered by a keydesk of schema 2 or 3 (under AppID
// "keydesk") reads after the migration to schema 4 as a U2F key of that
// AppID, ES256, attested fido-u2f, with no relying party.
func TestMigratedU2FKeyKeepsWorking(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v2.db")
	if err := os.WriteFile(path, readFile(t, "../testdata/inventories/v2.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	handle, point, cert := bytes.Repeat([]byte{7}, 64), append([]byte{4}, bytes.Repeat([]byte{9}, 64)...), []byte("DER")
	db := sqliteFile(t, path)
	mustExec(t, db, `INSERT INTO keys(user_id, name, key_handle, public_key, counter, app_id, attestation_cert, attestation, state_at, created_at)
		VALUES ((SELECT id FROM users WHERE name = 'alice'), 'blue', ?, ?, 41, 'keydesk', ?, 'self-signed', 1, 1)`, handle, point, cert)
	db.Close()

	os.WriteFile(filepath.Join(dir, "v2.key"), readFile(t, "../testdata/inventories/v2.key"), 0o600)
	master, err := inventory.ReadMasterKey(filepath.Join(dir, "v2.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := inventory.Open(t.Context(), path, master, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.UserKeys(t.Context(), "alice")
	if err != nil || len(keys) != 1 {
		t.Fatalf("alice's keys: %+v, %v", keys, err)
	}
	k := keys[0]
	if k.Kind != inventory.KeyU2F || k.AppID != "keydesk" || k.RPID != "" || k.Algorithm != -7 || k.AttestationFormat != "fido-u2f" ||
		k.Counter != 41 || !bytes.Equal(k.KeyHandle, handle) || !bytes.Equal(k.PublicKey, point) || !bytes.Equal(k.Certificate, cert) ||
		len(k.COSEKey) != 0 || k.Resident || k.UserVerified {
		t.Errorf("migrated key: %+v", k)
	}
	if got, err := s.KeyByCredentialID(t.Context(), handle); err != nil || got.ID != k.ID {
		t.Errorf("by credential id: %+v, %v", got, err)
	}
	if got, err := s.RegisteredKeys(t.Context(), "keydesk"); err != nil || len(got) != 1 {
		t.Errorf("registered under keydesk: %+v, %v", got, err)
	}
}

func TestCTAP2KeyRoundTrip(t *testing.T) {
	fx := newStore(t)
	want := inventory.Key{Name: "green", Kind: inventory.KeyCTAP2, KeyHandle: []byte{1, 2, 3}, COSEKey: []byte{0xa5}, Algorithm: -8,
		Counter: 3, RPID: "example.edu", Certificate: []byte("leafroot"), AttestationFormat: "packed", Attestation: "trusted",
		Model: "Test Key", AAGUID: "2a38d610-c3ca-4864-8900-ae3475146b6f", Resident: true, UserVerified: true, BackupEligible: true}
	var got inventory.Key
	fx.update(t, func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "ada"})
		if err != nil {
			return err
		}
		got, err = tx.AddKey(u.ID, want)
		return err
	})
	keys, err := fx.s.UserKeys(t.Context(), "ada")
	if err != nil || len(keys) != 1 {
		t.Fatalf("%+v, %v", keys, err)
	}
	k := keys[0]
	if k.ID != got.ID || k.Kind != want.Kind || !bytes.Equal(k.COSEKey, want.COSEKey) || k.Algorithm != -8 || k.RPID != want.RPID ||
		k.AppID != "" || k.AttestationFormat != "packed" || !k.Resident || !k.UserVerified || !k.BackupEligible || k.BackupState ||
		len(k.PublicKey) != 0 || k.AAGUID != want.AAGUID {
		t.Errorf("stored %+v, read %+v", want, k)
	}
	all, err := fx.s.ActiveKeys(t.Context())
	if err != nil || len(all) != 1 {
		t.Errorf("active keys: %+v, %v", all, err)
	}
	// A credential id is registered once, whoever holds it.
	fx.update(t, func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "bea"})
		if err != nil {
			return err
		}
		if _, err := tx.AddKey(u.ID, want); !errors.Is(err, inventory.ErrExists) {
			t.Errorf("the same credential twice: %v", err)
		}
		return nil
	})
}

func TestUserWebAuthnID(t *testing.T) {
	fx := newStore(t)
	id := bytes.Repeat([]byte{5}, 64)
	fx.update(t, func(tx *inventory.Tx) error {
		a, err := tx.AddUser(inventory.User{Name: "ada"})
		if err != nil {
			return err
		}
		b, err := tx.AddUser(inventory.User{Name: "bea"})
		if err != nil {
			return err
		}
		if err := tx.SetUserWebAuthnID(a.ID, id); err != nil {
			return err
		}
		// A user handle never changes, and is one user's.
		if err := tx.SetUserWebAuthnID(a.ID, []byte{1}); !errors.Is(err, inventory.ErrExists) {
			t.Errorf("a second handle: %v", err)
		}
		if err := tx.SetUserWebAuthnID(b.ID, id); !errors.Is(err, inventory.ErrExists) {
			t.Errorf("another user's handle: %v", err)
		}
		if err := tx.SetUserWebAuthnID(b.ID, make([]byte, 65)); err == nil {
			t.Error("a handle of 65 bytes was taken")
		}
		return nil
	})
	u, err := fx.s.UserByWebAuthnID(t.Context(), id)
	if err != nil || u.Name != "ada" || !bytes.Equal(u.WebAuthnID, id) {
		t.Errorf("by handle: %+v, %v", u, err)
	}
	if _, err := fx.s.UserByWebAuthnID(t.Context(), []byte{2}); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("unknown handle: %v", err)
	}
}

func TestMDSBlob(t *testing.T) {
	fx := newStore(t)
	if _, err := fx.s.MDSBlob(t.Context()); !errors.Is(err, inventory.ErrNotFound) {
		t.Fatalf("before any import: %v", err)
	}
	for _, serial := range []int{41, 42} {
		fx.update(t, func(tx *inventory.Tx) error {
			return tx.PutMDSBlob(inventory.MDSBlob{Blob: []byte{byte(serial)}, Serial: serial, Roots: []byte("PEM"), Models: 6, ImportedBy: "clerk"})
		})
	}
	b, err := fx.s.MDSBlob(t.Context())
	if err != nil || b.Serial != 42 || !bytes.Equal(b.Blob, []byte{42}) || string(b.Roots) != "PEM" || b.Models != 6 ||
		!b.ImportedAt.Equal(fx.clock.Now().Truncate(1e9)) {
		t.Errorf("%+v, %v", b, err)
	}
	fx.update(t, func(tx *inventory.Tx) error {
		n, err := tx.MDSSerial()
		if n != 42 {
			t.Errorf("serial %d", n)
		}
		return err
	})
}
