package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// A passcode field sometimes receives a password: whatever was typed must
// never come back in a reason, which ends up in logs and RADIUS answers.
func TestReasonsNeverRepeatWhatWasTyped(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	v := New(st, DefaultPolicy)
	addUser(t, st, "alice")
	err := st.Update(ctx, func(tx *inventory.Tx) error {
		u, _ := tx.User("alice")
		tok := fob.Token{Serial: "F1", Kind: fob.HOTP, Secret: []byte("12345678901234567890")}
		tok.Normalize()
		return tx.AddFob(tok, 0, u.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"Hunter2-Secret!", "12345", "0000000000000", "ccccccccccccdvgtiblfkbgturecfllberrvkinnctnn"} {
		for name, verifyIt := range map[string]func() (Decision, error){
			"serial": func() (Decision, error) { return v.VerifySerial(ctx, "F1", typed, Origin{Transport: "test"}) },
			"user":   func() (Decision, error) { return v.VerifyUser(ctx, "alice", typed, Origin{Transport: "test"}) },
		} {
			d, err := verifyIt()
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow || strings.Contains(d.Reason(), typed) {
				t.Errorf("%s, typed %q: %q", name, typed, d.Reason())
			}
		}
		f, err := st.Fob(ctx, "F1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DefaultPolicy.Resync(&f, typed, typed, st.Now()); err == nil || strings.Contains(err.Error(), typed) {
			t.Errorf("resync, typed %q: %v", typed, err)
		}
	}
}

func TestLockedNowOnlyOnTheLockingDenial(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	v := New(st, DefaultPolicy)
	err := st.Update(ctx, func(tx *inventory.Tx) error {
		tok := fob.Token{Serial: "F2", Kind: fob.HOTP, Secret: []byte("12345678901234567890")}
		tok.Normalize()
		return tx.AddFob(tok, 0, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= DefaultPolicy.LockoutAfter+1; i++ {
		d, err := v.VerifySerial(ctx, "F2", "000000", Origin{Transport: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if want := i == DefaultPolicy.LockoutAfter; d.LockedNow != want {
			t.Errorf("failure %d: LockedNow %v (%s)", i, d.LockedNow, d.Reason())
		}
	}
}
