package inventory_test

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keydesk/keydesk/inventory"
)

func (fx *fixture) user(t *testing.T, name string) inventory.User {
	t.Helper()
	var u inventory.User
	fx.update(t, func(tx *inventory.Tx) error {
		var err error
		u, err = tx.AddUser(inventory.User{Name: name})
		return err
	})
	return u
}

// Of many updates taking one ceremony at once, exactly one gets it; the
// others are told it was finished before.
func TestCeremonyTakenOnce(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	fx.update(t, func(tx *inventory.Tx) error {
		return tx.AddCeremony("the transaction", inventory.Ceremony{Purpose: inventory.CeremonyLogin, UserID: u.ID, BoundTo: "app:vpn",
			Challenge: []byte("challenge"), KeyIDs: []int64{3, 5}, ExpiresAt: fx.clock.Now().Add(2 * time.Minute)})
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	took, used := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
				c, err := tx.TakeCeremony("the transaction")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && c.User == "alice" && c.BoundTo == "app:vpn" && len(c.KeyIDs) == 2 && bytes.Equal(c.Challenge, []byte("challenge")):
					took++
				case errors.Is(err, inventory.ErrCeremonyUsed):
					used++
				default:
					t.Errorf("took %+v: %v", c, err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if took != 1 || used != 15 {
		t.Errorf("%d took the ceremony, %d were told it was used", took, used)
	}
	fx.update(t, func(tx *inventory.Tx) error {
		if _, err := tx.TakeCeremony("another transaction"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("an unknown ceremony: %v", err)
		}
		return nil
	})
}

func TestCeremonyExpires(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	fx.update(t, func(tx *inventory.Tx) error {
		return tx.AddCeremony("t", inventory.Ceremony{Purpose: inventory.CeremonyRegister, UserID: u.ID, BoundTo: "x",
			Challenge: []byte("c"), ExpiresAt: fx.clock.Now().Add(2 * time.Minute)})
	})
	fx.clock.Advance(2 * time.Minute)
	fx.update(t, func(tx *inventory.Tx) error {
		if _, err := tx.TakeCeremony("t"); !errors.Is(err, inventory.ErrCeremonyExpired) {
			t.Errorf("at its expiry: %v", err)
		}
		return nil
	})
}

// Tokens, session ids and ceremony ids are stored as keyed hashes only.
func TestPortalSecretsNotStored(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	token, session, ceremony := "link-token-0123456789abcdef", "session-id-0123456789abcdef", "ceremony-id-0123456789abcdef"
	fx.update(t, func(tx *inventory.Tx) error {
		if _, err := tx.AddLink(inventory.EnrolLink, u.ID, token, "test", fx.clock.Now().Add(time.Hour)); err != nil {
			return err
		}
		if _, err := tx.AddSession(session, inventory.Session{Kind: inventory.Visitor, CSRF: []byte("csrf"),
			ExpiresAt: fx.clock.Now().Add(time.Hour), EndsAt: fx.clock.Now().Add(time.Hour)}); err != nil {
			return err
		}
		return tx.AddCeremony(ceremony, inventory.Ceremony{Purpose: "login", UserID: u.ID, BoundTo: "x", Challenge: []byte("c"), ExpiresAt: fx.clock.Now()})
	})
	for _, secret := range []string{token, session, ceremony} {
		if filesContain(t, fx.path, []byte(secret)) {
			t.Errorf("%q is in the database", secret)
		}
	}
	if l, err := fx.s.LinkByToken(t.Context(), token); err != nil || l.User != "alice" || l.State(fx.clock.Now()) != inventory.LinkLive {
		t.Errorf("link %+v %v", l, err)
	}
	if s, err := fx.s.SessionByID(t.Context(), session); err != nil || s.Kind != inventory.Visitor || !s.Live(fx.clock.Now()) {
		t.Errorf("session %+v %v", s, err)
	}
}

func TestLinkUsedOnce(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	var l inventory.Link
	fx.update(t, func(tx *inventory.Tx) (err error) {
		l, err = tx.AddLink(inventory.ActivateLink, u.ID, "token", "test", fx.clock.Now().Add(time.Hour))
		return err
	})
	for i, want := range []bool{true, false} {
		fx.update(t, func(tx *inventory.Tx) error {
			ok, err := tx.UseLink(l.ID)
			if ok != want {
				t.Errorf("use %d: %v %v", i+1, ok, err)
			}
			return err
		})
	}
	l, _ = fx.s.LinkByToken(t.Context(), "token")
	if l.State(fx.clock.Now()) != inventory.LinkUsed {
		t.Errorf("state %s", l.State(fx.clock.Now()))
	}
}

// A pending phone app's seed is sealed, survives a rekey, and is
// forgotten when the phone app is abandoned; one pending phone app a
// user at a time.
func TestPendingPhoneApp(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	seed := []byte("twenty bytes of seed")
	var first, second inventory.PhoneApp
	fx.update(t, func(tx *inventory.Tx) (err error) {
		if first, err = tx.AddPhoneApp(u.ID, seed, "Example", "alice", "test", fx.clock.Now().Add(time.Hour), 0); err != nil {
			return err
		}
		second, err = tx.AddPhoneApp(u.ID, seed, "Example", "alice", "test", fx.clock.Now().Add(time.Hour), 0)
		return err
	})
	if filesContain(t, fx.path, seed) {
		t.Error("the seed is in the database unsealed")
	}
	if err := fx.s.Rekey(t.Context(), testKey(2), "test"); err != nil {
		t.Fatal(err)
	}
	fx.reopen(t, testKey(2))
	fx.update(t, func(tx *inventory.Tx) error {
		if got, err := tx.PendingPhoneSecret(second.ID); err != nil || !bytes.Equal(got, seed) {
			t.Errorf("the seed after a rekey: %q %v", got, err)
		}
		if _, err := tx.PendingPhoneSecret(first.ID); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("the first, abandoned, phone app's seed: %v", err)
		}
		return nil
	})
	phones, err := fx.s.PhoneApps(t.Context(), "alice")
	if err != nil || len(phones) != 2 || phones[0].State != inventory.PhoneAbandoned || phones[1].State != inventory.PhonePending {
		t.Errorf("phone apps %+v %v", phones, err)
	}
}

// A key registered through a browser is a CTAP2 row of keys: its
// transports come back as the browser gave them, it is found by its
// credential id inside an update, and a login stores its counter and
// backup state.
func TestBrowserKeyInKeys(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	handle := []byte("credential id")
	var id int64
	fx.update(t, func(tx *inventory.Tx) error {
		k, err := tx.AddKey(u.ID, inventory.Key{Name: "blue", Kind: inventory.KeyCTAP2, KeyHandle: handle, COSEKey: []byte{0xa5},
			RPID: "example.edu", AttestationFormat: "none", BackupEligible: true, Transports: []string{"usb", "nfc"}})
		id = k.ID
		return err
	})
	keys, err := fx.s.UserKeys(t.Context(), "alice")
	if err != nil || len(keys) != 1 || !slices.Equal(keys[0].Transports, []string{"usb", "nfc"}) || keys[0].Kind != inventory.KeyCTAP2 {
		t.Fatalf("alice's keys: %+v, %v", keys, err)
	}
	fx.update(t, func(tx *inventory.Tx) error {
		k, err := tx.KeyByCredentialID(handle)
		if err != nil || k.ID != id || k.User != "alice" {
			t.Errorf("by credential id: %+v, %v", k, err)
		}
		if _, err := tx.KeyByCredentialID([]byte("another")); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("an unknown credential id: %v", err)
		}
		if err := tx.RecordKeyUse(id, 7); err != nil {
			return err
		}
		return tx.SetKeyBackupState(id, true)
	})
	k, err := fx.s.KeyByCredentialID(t.Context(), handle)
	if err != nil || k.Counter != 7 || !k.BackupState || !k.BackupEligible || k.LastUsedAt.IsZero() {
		t.Errorf("after a login: %+v, %v", k, err)
	}
	fx.update(t, func(tx *inventory.Tx) error { return tx.SetKeyBackupState(id, false) })
	if k, _ := fx.s.KeyByCredentialID(t.Context(), handle); k.BackupState {
		t.Error("the backup state did not go back")
	}
	// A key no browser told the transports of has none.
	fx.update(t, func(tx *inventory.Tx) error {
		_, err := tx.AddKey(u.ID, inventory.Key{Name: "desk", Kind: inventory.KeyCTAP2, KeyHandle: []byte("other"), COSEKey: []byte{0xa5}, RPID: "example.edu"})
		return err
	})
	if k, _ := fx.s.KeyByCredentialID(t.Context(), []byte("other")); k.Transports != nil {
		t.Errorf("transports %q of a key registered at the desk", k.Transports)
	}
}

// The user handle drawn for a registration comes back with its
// ceremony; a ceremony for a user who has one carries none.
func TestCeremonyUserHandle(t *testing.T) {
	fx := newStore(t)
	u := fx.user(t, "alice")
	handle := bytes.Repeat([]byte{9}, 64)
	fx.update(t, func(tx *inventory.Tx) error {
		if err := tx.AddCeremony("with", inventory.Ceremony{Purpose: inventory.CeremonyRegister, UserID: u.ID, BoundTo: "x",
			Challenge: []byte("c"), UserHandle: handle, ExpiresAt: fx.clock.Now().Add(time.Minute)}); err != nil {
			return err
		}
		return tx.AddCeremony("without", inventory.Ceremony{Purpose: inventory.CeremonyRegister, UserID: u.ID, BoundTo: "x",
			Challenge: []byte("c"), ExpiresAt: fx.clock.Now().Add(time.Minute)})
	})
	fx.update(t, func(tx *inventory.Tx) error {
		if c, err := tx.TakeCeremony("with"); err != nil || !bytes.Equal(c.UserHandle, handle) {
			t.Errorf("with a handle: %x, %v", c.UserHandle, err)
		}
		if c, err := tx.TakeCeremony("without"); err != nil || c.UserHandle != nil {
			t.Errorf("without: %x, %v", c.UserHandle, err)
		}
		return nil
	})
}
