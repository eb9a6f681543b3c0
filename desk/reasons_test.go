package desk_test

import (
	"strings"
	"testing"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/verify"
)

// Why a fob was reported lost or revoked, and why a user was disabled, is
// kept on the record and in the audit entry; enabling clears it.
func TestReasons(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	fx.addUser(t, "ann")
	fx.holds(t, "ann", "R-1", nil)
	fx.act(t, "lost", func() error { return fx.d.Because("  left on the 8:15 bus ").ReportLost(ctx, "R-1") },
		"fob lost", "fob R-1", "held by ann; reason: left on the 8:15 bus")
	if v, err := fx.d.Fob(ctx, "R-1"); err != nil || v.Reason != "left on the 8:15 bus" {
		t.Errorf("lost fob %+v %v", v, err)
	}
	fx.act(t, "revoked", func() error { return fx.d.Because("never found").Revoke(ctx, "R-1") },
		"fob revoke", "fob R-1", "held by ann; reason: never found")
	if v, _ := fx.d.Fob(ctx, "R-1"); v.Reason != "never found" {
		t.Errorf("revoked fob's reason %q", v.Reason)
	}

	fx.act(t, "disable", func() error { return fx.d.Because("on leave").SetUserDisabled(ctx, "ann", true) },
		"user disable", "user ann", "reason: on leave")
	if v, err := fx.d.UserDetail(ctx, "ann"); err != nil || v.DisabledReason != "on leave" {
		t.Errorf("disabled user %+v %v", v, err)
	}
	fx.act(t, "enable", func() error { return fx.d.Because("back").SetUserDisabled(ctx, "ann", false) },
		"user enable", "user ann", "reason: back")
	if v, _ := fx.d.UserDetail(ctx, "ann"); v.DisabledReason != "" {
		t.Errorf("enabled user keeps the reason %q", v.DisabledReason)
	}

	// Without a reason the audit entry is as it was.
	fx.holds(t, "ann", "R-2", nil)
	fx.act(t, "lost without a reason", func() error { return fx.d.ReportLost(ctx, "R-2") }, "fob lost", "fob R-2", "held by ann")

	fx.holds(t, "", "R-3", nil)
	for _, bad := range []string{"two\nlines", strings.Repeat("x", desk.MaxReason+1), "\xff"} {
		fx.refused(t, "a bad reason", func() error { return fx.d.Because(bad).ReportLost(ctx, "R-3") }, verify.ErrRefused, "reason")
		fx.refused(t, "a bad reason", func() error { return fx.d.Because(bad).SetUserDisabled(ctx, "ann", true) }, verify.ErrRefused, "reason")
	}
}

// Unlocking a fob that is not locked changes nothing and says so.
func TestUnlockAFobNotLocked(t *testing.T) {
	fx := newDesk(t)
	fx.holds(t, "", "N-1", nil)
	fx.refused(t, "unlock", func() error { return fx.d.UnlockFob(t.Context(), "N-1") }, desk.ErrNotLocked, "fob N-1 is not locked")
}
