package inventory

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupSavepoints hands the writer one group directly, so the updates
// are sure to share a transaction: the failing and the panicking one undo
// only their own rows, and a later update sees an earlier one's rows.
func TestGroupSavepoints(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), bytes.Repeat([]byte{1}, 32), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	add := func(name string) func(*Tx) error {
		return func(tx *Tx) error { _, err := tx.AddUser(User{Name: name}); return err }
	}
	errFail := errors.New("second gives up")
	sawFirst := false
	fns := []func(*Tx) error{
		add("first"),
		func(tx *Tx) error { add("second")(tx); return errFail },
		func(tx *Tx) error { add("third")(tx); panic("third panics") },
		func(tx *Tx) error {
			_, err := tx.User("first")
			sawFirst = err == nil
			return add("fourth")(tx)
		},
		add("first"), // a UNIQUE failure inside the group
	}
	group := make([]*request, len(fns))
	for i, fn := range fns {
		group[i] = &request{ctx: context.Background(), fn: fn, err: make(chan error, 1)}
	}
	s.writer.commit(group)
	got := make([]error, len(group))
	for i, r := range group {
		got[i] = <-r.err
	}
	if got[0] != nil || got[3] != nil {
		t.Errorf("good updates failed: %v, %v", got[0], got[3])
	}
	if !errors.Is(got[1], errFail) {
		t.Errorf("failing update: %v", got[1])
	}
	if got[2] == nil {
		t.Error("panicking update reported success")
	}
	if !errors.Is(got[4], ErrExists) {
		t.Errorf("duplicate user: %v, want ErrExists", got[4])
	}
	if !sawFirst {
		t.Error("the fourth update did not see the first one's row in the shared transaction")
	}
	users, err := s.Users(t.Context(), UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if len(names) != 2 || names[0] != "first" || names[1] != "fourth" {
		t.Errorf("committed users %v, want [first fourth]", names)
	}
}

// TestGroupAborts: what an update registers with onAbort runs when its
// own changes are undone or when the group's commit fails, and not when
// another update of the group fails alone.
func TestGroupAborts(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), bytes.Repeat([]byte{1}, 32), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ran []string
	registers := func(name string, fail bool) func(*Tx) error {
		return func(tx *Tx) error {
			tx.onAbort(func() { ran = append(ran, name) })
			if fail {
				return errors.New(name + " fails")
			}
			return nil
		}
	}
	run := func(fns ...func(*Tx) error) []error {
		group := make([]*request, len(fns))
		for i, fn := range fns {
			group[i] = &request{ctx: context.Background(), fn: fn, err: make(chan error, 1)}
		}
		s.writer.commit(group)
		errs := make([]error, len(group))
		for i, r := range group {
			errs[i] = <-r.err
		}
		return errs
	}

	run(registers("kept", false), registers("undone", true), func(*Tx) error { return errors.New("other fails") })
	if len(ran) != 1 || ran[0] != "undone" {
		t.Errorf("after one update failed: aborts run %q, want [undone]", ran)
	}

	// A deferred foreign key that is never satisfied fails the COMMIT
	// itself, after every update of the group succeeded.
	ran = nil
	errs := run(registers("first", false), registers("second", false), func(tx *Tx) error {
		if _, err := tx.exec(tx.ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		_, err := tx.exec(tx.ctx, `INSERT INTO bypass_codes(user_id, hash, uses_left, expires_at, created_by, created_at)
			VALUES (999, x'00', 1, 0, 'test', 0)`)
		return err
	})
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "failed to commit") {
			t.Errorf("update %d of a group whose commit failed: %v", i, err)
		}
	}
	if len(ran) != 2 || ran[0] != "second" || ran[1] != "first" {
		t.Errorf("after the commit failed: aborts run %q, want [second first]", ran)
	}
	// The writer goes on.
	if err := s.Update(t.Context(), func(tx *Tx) error { _, err := tx.AddUser(User{Name: "after"}); return err }); err != nil {
		t.Errorf("update after a failed commit: %v", err)
	}
}
