package inventory

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
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
	users, err := s.Users(t.Context(), "")
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
