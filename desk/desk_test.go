package desk_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/teststore"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

var start = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

type fixture struct {
	s    *inventory.Store
	d    *desk.Desk
	now  time.Time
	path string
}

func newDesk(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{now: start, path: teststore.Path(t, t.TempDir(), "keydesk.db")}
	key := sha256.Sum256([]byte("keydesk desk tests"))
	s, err := inventory.Open(t.Context(), fx.path, key[:], inventory.Options{Create: true, Now: func() time.Time { return fx.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fx.s, fx.d = s, desk.New(s, verify.New(s, verify.DefaultPolicy)).As("clerk")
	return fx
}

func token(serial string) fob.Token {
	secret := sha256.Sum256([]byte(serial))
	return fob.Token{Serial: serial, Kind: fob.HOTP, Secret: secret[:20]}
}

func (fx *fixture) fob(t *testing.T, serial string) inventory.Fob {
	t.Helper()
	f, err := fx.s.Fob(t.Context(), serial)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (fx *fixture) audit(t *testing.T) []inventory.AuditEntry {
	t.Helper()
	var out []inventory.AuditEntry
	if err := fx.s.AuditLog(t.Context(), inventory.AuditFilter{}, func(e inventory.AuditEntry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// act runs one action and checks what it wrote to the audit log: exactly
// the entry given on success, nothing on failure.
func (fx *fixture) act(t *testing.T, what string, fn func() error, action, subject, detail string) {
	t.Helper()
	before := len(fx.audit(t))
	if err := fn(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	log := fx.audit(t)
	if len(log) != before+1 {
		t.Fatalf("%s wrote %d audit entries, want 1", what, len(log)-before)
	}
	e := log[len(log)-1]
	if e.Actor != "clerk" || e.Action != action || e.Subject != subject || e.Detail != detail || !e.At.Equal(fx.now) {
		t.Errorf("%s: audit entry %+v, want clerk %q %q %q at %v", what, e, action, subject, detail, fx.now)
	}
}

// refused runs an action that must fail with an error wrapping want and
// naming each word, and write nothing.
func (fx *fixture) refused(t *testing.T, what string, fn func() error, want error, words ...string) {
	t.Helper()
	before := len(fx.audit(t))
	err := fn()
	if err == nil {
		t.Fatalf("%s succeeded", what)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", what, err, w)
		}
	}
	if n := len(fx.audit(t)) - before; n != 0 {
		t.Errorf("%s failed but wrote %d audit entries", what, n)
	}
}

func TestFobLife(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.act(t, "add user", func() error {
		_, err := fx.d.AddUser(ctx, inventory.User{Name: "ada", FullName: "Ada Lovelace"})
		return err
	}, "user add", "user ada", "Ada Lovelace")
	fx.act(t, "add user", func() error { _, err := fx.d.AddUser(ctx, inventory.User{Name: "bob"}); return err },
		"user add", "user bob", "")
	fx.act(t, "add fob", func() error { return fx.d.AddFob(ctx, token("F-1"), desk.AddFobOptions{}) }, "fob add", "fob F-1", "hotp, typed in")
	if f := fx.fob(t, "F-1"); f.State != inventory.InStock || f.User != "" || f.Token.Digits != 6 || f.Token.Algorithm != fob.SHA1 {
		t.Fatalf("new fob %+v, want in stock with defaults", f)
	}

	fx.refused(t, "unassign from stock", func() error { return fx.d.UnassignFob(ctx, "F-1") }, desk.ErrState, "F-1", "in stock")
	fx.refused(t, "assign to nobody", func() error { return fx.d.AssignFob(ctx, "F-1", "nobody") }, inventory.ErrNotFound, "nobody")

	fx.now = fx.now.Add(time.Hour)
	fx.act(t, "assign", func() error { return fx.d.AssignFob(ctx, "F-1", "ada") }, "fob assign", "fob F-1", "to ada")
	if f := fx.fob(t, "F-1"); f.State != inventory.Assigned || f.User != "ada" || !f.StateAt.Equal(fx.now) {
		t.Errorf("assigned fob %+v", f)
	}
	fx.refused(t, "assign an assigned fob", func() error { return fx.d.AssignFob(ctx, "F-1", "bob") },
		desk.ErrState, "F-1", "assigned to ada", "unassign it first")

	fx.act(t, "unassign", func() error { return fx.d.UnassignFob(ctx, "F-1") }, "fob unassign", "fob F-1", "from ada")
	if f := fx.fob(t, "F-1"); f.State != inventory.InStock || f.User != "" {
		t.Errorf("unassigned fob %+v", f)
	}

	fx.act(t, "assign again", func() error { return fx.d.AssignFob(ctx, "F-1", "bob") }, "fob assign", "fob F-1", "to bob")
	fx.now = time.Date(2025, 4, 2, 10, 0, 0, 0, time.UTC)
	fx.act(t, "report lost", func() error { return fx.d.ReportLost(ctx, "F-1") }, "fob lost", "fob F-1", "held by bob")
	if f := fx.fob(t, "F-1"); f.State != inventory.Lost || f.User != "bob" {
		t.Errorf("lost fob %+v: want lost, still held by bob", f)
	}
	if n := countFobs(t, fx, inventory.FobFilter{User: "bob"}); n != 1 {
		t.Errorf("bob's record lists %d fobs, want the lost one", n)
	}
	fx.refused(t, "assign a lost fob", func() error { return fx.d.AssignFob(ctx, "F-1", "ada") }, desk.ErrState, "F-1", "lost on 2025-04-02")
	fx.refused(t, "unassign a lost fob", func() error { return fx.d.UnassignFob(ctx, "F-1") }, desk.ErrState, "F-1", "lost")
	fx.refused(t, "report lost twice", func() error { return fx.d.ReportLost(ctx, "F-1") }, desk.ErrState, "F-1", "lost")

	fx.now = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	fx.act(t, "revoke a lost fob", func() error { return fx.d.Revoke(ctx, "F-1") }, "fob revoke", "fob F-1", "held by bob")
	if f := fx.fob(t, "F-1"); f.State != inventory.Revoked || f.User != "bob" {
		t.Errorf("revoked fob %+v", f)
	}
	fx.refused(t, "revoke twice", func() error { return fx.d.Revoke(ctx, "F-1") }, desk.ErrState, "F-1", "revoked on 2025-05-01")
	fx.refused(t, "report a revoked fob lost", func() error { return fx.d.ReportLost(ctx, "F-1") }, desk.ErrState, "F-1", "revoked")
	fx.refused(t, "assign a revoked fob", func() error { return fx.d.AssignFob(ctx, "F-1", "ada") }, desk.ErrState, "F-1", "revoked")

	if _, err := fx.s.VerifyAudit(ctx); err != nil {
		t.Errorf("audit log after the fob's life: %v", err)
	}
}

func countFobs(t *testing.T, fx *fixture, filter inventory.FobFilter) int {
	t.Helper()
	n := 0
	if err := fx.s.Fobs(t.Context(), filter, func(inventory.Fob) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStockFobLostAndRevoked(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	for _, s := range []string{"S-1", "S-2"} {
		if err := fx.d.AddFob(ctx, token(s), desk.AddFobOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fx.act(t, "lose a fob from the shelf", func() error { return fx.d.ReportLost(ctx, "S-1") }, "fob lost", "fob S-1", "in stock")
	fx.act(t, "revoke a fob on the shelf", func() error { return fx.d.Revoke(ctx, "S-2") }, "fob revoke", "fob S-2", "in stock")
}

func TestUnknownFob(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	for name, fn := range map[string]func() error{
		"assign":   func() error { return fx.d.AssignFob(ctx, "NOPE", "ada") },
		"unassign": func() error { return fx.d.UnassignFob(ctx, "NOPE") },
		"lost":     func() error { return fx.d.ReportLost(ctx, "NOPE") },
		"revoke":   func() error { return fx.d.Revoke(ctx, "NOPE") },
		"unlock":   func() error { return fx.d.UnlockFob(ctx, "NOPE") },
	} {
		fx.refused(t, name+" an unknown fob", fn, inventory.ErrNotFound, `"NOPE"`)
	}
}

func TestUnlockFob(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if err := fx.d.AddFob(ctx, token("U-1"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.refused(t, "unlock a fob that is not locked", func() error { return fx.d.UnlockFob(ctx, "U-1") }, nil, "U-1", "not locked")
	f := fx.fob(t, "U-1")
	err := fx.s.Update(ctx, func(tx *inventory.Tx) error {
		for range 3 {
			if _, _, err := tx.RecordFobFailure(f.ID, 3); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := fx.fob(t, "U-1"); !f.Locked() {
		t.Fatal("three failures with a limit of 3 did not lock")
	}
	fx.act(t, "unlock", func() error { return fx.d.UnlockFob(ctx, "U-1") }, "fob unlock", "fob U-1", "3 failures cleared")
	if f := fx.fob(t, "U-1"); f.Locked() || f.FailCount != 0 {
		t.Errorf("after unlock: %+v", f)
	}
}

func TestUsers(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if _, err := fx.d.AddUser(ctx, inventory.User{Name: "cy"}); err != nil {
		t.Fatal(err)
	}
	fx.refused(t, "add a user twice", func() error { _, err := fx.d.AddUser(ctx, inventory.User{Name: "cy"}); return err },
		inventory.ErrExists, `"cy"`)
	fx.refused(t, "add a user with a trailing blank", func() error { _, err := fx.d.AddUser(ctx, inventory.User{Name: "cy "}); return err },
		nil, "white space")
	fx.act(t, "disable", func() error { return fx.d.SetUserDisabled(ctx, "cy", true) }, "user disable", "user cy", "")
	fx.refused(t, "disable twice", func() error { return fx.d.SetUserDisabled(ctx, "cy", true) }, nil, "cy", "already disabled")
	if err := fx.d.AddFob(ctx, token("C-1"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.refused(t, "assign to a disabled user", func() error { return fx.d.AssignFob(ctx, "C-1", "cy") }, nil, "cy", "disabled")
	fx.act(t, "enable", func() error { return fx.d.SetUserDisabled(ctx, "cy", false) }, "user enable", "user cy", "")
	fx.act(t, "unlock user", func() error { return fx.d.UnlockUser(ctx, "cy") }, "user unlock", "user cy", "0 failures cleared")
	fx.refused(t, "unlock an unknown user", func() error { return fx.d.UnlockUser(ctx, "nobody") }, inventory.ErrNotFound, `"nobody"`)
}

func TestAddFobRefusals(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	short := token("A-1")
	short.Secret = short.Secret[:10]
	fx.refused(t, "a short seed", func() error { return fx.d.AddFob(ctx, short, desk.AddFobOptions{}) }, fob.ErrInvalid, "seed too short")
	if err := fx.d.AddFob(ctx, token("A-2"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	fx.refused(t, "the same serial", func() error { return fx.d.AddFob(ctx, token(" A-2 "), desk.AddFobOptions{}) }, inventory.ErrExists, `"A-2"`)
}

func TestMain(m *testing.M) { os.Exit(teststore.Run(m)) }

// A fob's view says locked while the lock holds, and not once its
// cool-down is over, though the row keeps the lock until the next
// decision clears it.
func TestFobViewLockEndsWithCooldown(t *testing.T) {
	fx := newDesk(t)
	if err := fx.d.AddFob(t.Context(), token("L1"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		_, _, err := tx.RecordFobFailure(fx.fob(t, "L1").ID, 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after  time.Duration
		locked bool
	}{{0, true}, {verify.DefaultPolicy.LockoutCooldown - time.Second, true}, {verify.DefaultPolicy.LockoutCooldown, false}} {
		fx.now = start.Add(c.after)
		v, err := fx.d.Fob(t.Context(), "L1")
		if err != nil || v.Locked != c.locked {
			t.Errorf("%v after the lock: locked %v, %v; want %v", c.after, v.Locked, err, c.locked)
		}
	}
	if f := fx.fob(t, "L1"); !f.Locked() {
		t.Error("the row lost its lock without a decision")
	}
}
