package inventory_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// rekeyStore holds a user with an HOTP fob, a Yubico fob in stock, a live
// bypass code and a few audit entries.
func rekeyStore(t *testing.T) (*fixture, string) {
	t.Helper()
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		u, err := tx.AddUser(inventory.User{Name: "ada"})
		if err != nil {
			return err
		}
		if err := tx.AddFob(hotpToken("H-1"), 0, u.ID); err != nil {
			return err
		}
		if err := tx.AddFob(yubicoToken("Y-1", "vvcccccccccc"), 0, 0); err != nil {
			return err
		}
		return tx.Audit("clerk", "fob assign", "fob H-1", "to ada")
	})
	v := verify.New(fx.s, verify.DefaultPolicy)
	issued, err := desk.New(fx.s, v).As("clerk").IssueBypass(t.Context(), verify.BypassRequest{User: "ada", Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	return fx, issued.Codes[0]
}

func allow(t *testing.T, what string, d verify.Decision, err error) {
	t.Helper()
	if err != nil || !d.Allow {
		t.Errorf("%s: %+v, %v; want allow", what, d, err)
	}
}

func TestRekey(t *testing.T) {
	fx, bypass := rekeyStore(t)
	oldKey, newKey := fx.key, testKey(0x42)
	h := hotpToken("H-1")
	y := yubicoToken("Y-1", "vvcccccccccc")

	if err := fx.s.Rekey(t.Context(), newKey, "admin"); err != nil {
		t.Fatal(err)
	}
	if fx.s.MasterKeyFingerprint() != inventory.Fingerprint(newKey) {
		t.Error("the open store still names the old key")
	}
	v := verify.New(fx.s, verify.DefaultPolicy)
	d, err := v.VerifySerial(t.Context(), "H-1", h.Code(0), verify.Origin{Transport: "test"})
	allow(t, "HOTP code right after rekey", d, err)

	fx.s.Close()
	if s, err := inventory.Open(t.Context(), fx.path, oldKey, inventory.Options{}); !errors.Is(err, inventory.ErrWrongKey) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open with the old key after rekey: %v, want ErrWrongKey", err)
	}
	fx.s = fx.open(t, newKey, false)
	v = verify.New(fx.s, verify.DefaultPolicy)

	d, err = v.VerifySerial(t.Context(), "H-1", h.Code(1), verify.Origin{Transport: "test"})
	allow(t, "HOTP code after reopening", d, err)
	otp, err := fob.SealYubicoOTP(y.Secret, y.PublicID, fob.YubicoFields{PrivateID: [6]byte(y.PrivateID), UseCounter: 1, SessionUse: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err = v.VerifySerial(t.Context(), "Y-1", otp, verify.Origin{Transport: "test"})
	allow(t, "Yubico OTP after reopening", d, err)
	d, err = v.VerifyUser(t.Context(), "ada", bypass, verify.Origin{Transport: "test"})
	allow(t, "bypass code issued before the rekey", d, err)

	sum, err := fx.s.VerifyAudit(t.Context())
	if err != nil {
		t.Fatalf("audit after rekey: %v", err)
	}
	var last inventory.AuditEntry
	fx.s.AuditLog(t.Context(), inventory.AuditFilter{}, func(e inventory.AuditEntry) error {
		if e.Action == "rekey" {
			last = e
		}
		return nil
	})
	if last.Actor != "admin" || !strings.Contains(last.Detail, inventory.Fingerprint(oldKey)) ||
		!strings.Contains(last.Detail, inventory.Fingerprint(newKey)) {
		t.Errorf("rekey entry %+v does not name the actor and both keys (log of %d)", last, sum.Entries)
	}
}

// snapshot is everything a rekey rewrites, read raw from the file.
func snapshot(t *testing.T, db *teststore.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT serial, secret, private_id FROM fobs ORDER BY id`,
		`SELECT name, value, 0 FROM meta ORDER BY name`,
		`SELECT id, detail, mac FROM audit ORDER BY id`,
		`SELECT id, hash, uses_left FROM bypass_codes ORDER BY id`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v [3]any
			if err := rows.Scan(&v[0], &v[1], &v[2]); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v:%x:%x\n", v[0], v[1], v[2])
		}
		rows.Close()
	}
	return b.String()
}

func TestRekeyRefusedWhenAuditTampered(t *testing.T) {
	fx, _ := rekeyStore(t)
	raw := fx.raw(t)
	mustExec(t, raw, `UPDATE audit SET detail = 'to mallory' WHERE id = 1`)
	before := snapshot(t, raw)
	newKey := testKey(0x43)

	err := fx.s.Rekey(t.Context(), newKey, "admin")
	var ae *inventory.AuditError
	if !errors.As(err, &ae) || ae.ID != 1 {
		t.Fatalf("rekey over a tampered log: %v, want an AuditError naming entry 1", err)
	}
	if !strings.Contains(err.Error(), "cannot be carried to a new key") {
		t.Errorf("error %q does not say why the rekey stopped", err)
	}
	if after := snapshot(t, raw); after != before {
		t.Errorf("a refused rekey changed the file:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if fx.s.MasterKeyFingerprint() != inventory.Fingerprint(fx.key) {
		t.Error("a refused rekey changed the store's key")
	}
	// The store still works under the old key, and the file opens with it.
	v := verify.New(fx.s, verify.DefaultPolicy)
	h := hotpToken("H-1")
	d, err := v.VerifySerial(t.Context(), "H-1", h.Code(0), verify.Origin{Transport: "test"})
	allow(t, "HOTP code after a refused rekey", d, err)
	fx.reopen(t, fx.key)
	if s, err := inventory.Open(t.Context(), fx.path, newKey, inventory.Options{}); !errors.Is(err, inventory.ErrWrongKey) {
		if s != nil {
			s.Close()
		}
		t.Errorf("open with the refused new key: %v, want ErrWrongKey", err)
	}
}

func TestRekeyRefusesBadKey(t *testing.T) {
	fx := newStore(t)
	if err := fx.s.Rekey(t.Context(), make([]byte, 16), "admin"); err == nil {
		t.Error("rekeyed to a 16-byte key")
	}
	if fx.s.MasterKeyFingerprint() != inventory.Fingerprint(fx.key) {
		t.Error("a refused rekey changed the key")
	}
}

// TestRekeyAmidUpdates adds fobs while the rekey runs: whichever side of
// the rekey they land in its group, every secret opens under the new key.
func TestRekeyAmidUpdates(t *testing.T) {
	fx := newStore(t)
	newKey := testKey(0x44)
	var wg sync.WaitGroup
	const n = 40
	for i := range n {
		wg.Go(func() {
			err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
				return tx.AddFob(hotpToken(fmt.Sprintf("R-%02d", i)), 0, 0)
			})
			if err != nil {
				t.Errorf("add R-%02d: %v", i, err)
			}
		})
	}
	wg.Go(func() {
		if err := fx.s.Rekey(t.Context(), newKey, "admin"); err != nil {
			t.Errorf("rekey: %v", err)
		}
	})
	wg.Wait()
	fx.reopen(t, newKey)
	fx.update(t, func(tx *inventory.Tx) error {
		for i := range n {
			serial := fmt.Sprintf("R-%02d", i)
			f, err := tx.Fob(serial)
			if err != nil {
				t.Errorf("fob %s after rekey: %v", serial, err)
				continue
			}
			if want := hotpToken(serial); !bytes.Equal(f.Token.Secret, want.Secret) {
				t.Errorf("fob %s opens to the wrong secret", serial)
			}
		}
		return nil
	})
}

// TestRekeyRefusedAmidUpdates: a refused rekey leaves the key as it was
// for the updates around it, before and after it returns.
func TestRekeyRefusedAmidUpdates(t *testing.T) {
	fx, _ := rekeyStore(t)
	mustExec(t, fx.raw(t), `UPDATE audit SET detail = 'to mallory' WHERE id = 1`)
	var wg sync.WaitGroup
	rekeyed := make(chan struct{})
	const writers, each = 8, 20
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if i == each/2 {
					<-rekeyed // the second half runs after Rekey returned
				}
				err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
					return tx.AddFob(hotpToken(fmt.Sprintf("RR-%d-%02d", w, i)), 0, 0)
				})
				if err != nil {
					t.Errorf("add RR-%d-%02d: %v", w, i, err)
				}
			}
		})
	}
	wg.Go(func() {
		defer close(rekeyed)
		if err := fx.s.Rekey(t.Context(), testKey(0x45), "admin"); err == nil {
			t.Error("rekeyed over a tampered log")
		}
	})
	wg.Wait()
	fx.reopen(t, fx.key)
	fx.update(t, func(tx *inventory.Tx) error {
		for w := range writers {
			for i := range each {
				if _, err := tx.Fob(fmt.Sprintf("RR-%d-%02d", w, i)); err != nil {
					t.Errorf("after a refused rekey: %v", err)
				}
			}
		}
		return nil
	})
}

// TestRekeyKeepsRADIUSSecrets: the sealed RADIUS secrets of applications
// are carried to the new key like fob secrets.
func TestRekeyKeepsRADIUSSecrets(t *testing.T) {
	fx := newStore(t)
	secret := []byte("a RADIUS secret long enough")
	fx.update(t, func(tx *inventory.Tx) error {
		_, _, err := tx.AddApplication(inventory.NewApplication{Name: "vpn", RADIUSSecret: secret,
			RADIUSSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "admin")
		return err
	})
	newKey := testKey(0x46)
	if err := fx.s.Rekey(t.Context(), newKey, "admin"); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		clients, err := fx.s.RADIUSClients(t.Context())
		if err != nil || len(clients) != 1 || !bytes.Equal(clients[0].Secret, secret) {
			t.Errorf("%s: RADIUS clients %+v, %v", when, clients, err)
		}
	}
	check("after rekey")
	fx.reopen(t, newKey)
	check("reopened with the new key")
}
