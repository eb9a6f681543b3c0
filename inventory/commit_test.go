package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keydesk/keydesk/inventory"
)

// TestConcurrentUpdates runs many updates at once, some failing and some
// panicking: every good one commits, every bad one leaves nothing, and the
// writer survives.
func TestConcurrentUpdates(t *testing.T) {
	fx := newStore(t)
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
				if _, err := tx.AddUser(inventory.User{Name: fmt.Sprintf("u%03d", i)}); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return fmt.Errorf("update %d gives up", i)
				case 7:
					panic(fmt.Sprintf("update %d panics", i))
				}
				return nil
			})
		})
	}
	wg.Wait()
	want := map[string]bool{}
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if err == nil || err.Error() != fmt.Sprintf("update %d gives up", i) {
				t.Errorf("update %d: %v, want its own error", i, err)
			}
		case 7:
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("update %d panics", i)) {
				t.Errorf("update %d: %v, want the panic as an error", i, err)
			}
		default:
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
			want[fmt.Sprintf("u%03d", i)] = true
		}
	}
	check := func(when string) {
		users, err := fx.s.Users(t.Context(), inventory.UserFilter{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, u := range users {
			got[u.Name] = true
			if !want[u.Name] {
				t.Errorf("%s: user %s of a failed update was committed", when, u.Name)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d users committed, want %d", when, len(got), len(want))
		}
	}
	check("open")
	fx.reopen(t, fx.key)
	check("reopened")
}

func TestUpdateAfterPanicAndCancel(t *testing.T) {
	fx := newStore(t)
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Errorf("panicking update: %v", err)
	}
	fx.update(t, func(tx *inventory.Tx) error {
		_, err := tx.AddUser(inventory.User{Name: "after"})
		return err
	})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err = fx.s.Update(ctx, func(tx *inventory.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("canceled update: ran=%v err=%v", ran, err)
	}
}

func TestUpdateAfterClose(t *testing.T) {
	fx := newStore(t)
	fx.s.Close()
	err := fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
		t.Error("an update ran on a closed store")
		return nil
	})
	if !errors.Is(err, inventory.ErrClosed) {
		t.Errorf("update after close: %v, want ErrClosed", err)
	}
	if err := fx.s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestUpdatesRacingClose: updates in flight when Close is called either
// commit or say the store is closed; none panics or hangs.
func TestUpdatesRacingClose(t *testing.T) {
	fx := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			errs <- fx.s.Update(t.Context(), func(tx *inventory.Tx) error {
				_, err := tx.AddUser(inventory.User{Name: fmt.Sprintf("r%02d", i)})
				return err
			})
		})
	}
	fx.s.Close()
	wg.Wait()
	close(errs)
	committed := 0
	for err := range errs {
		switch {
		case err == nil:
			committed++
		case !errors.Is(err, inventory.ErrClosed):
			t.Errorf("update racing close: %v", err)
		}
	}
	s := fx.open(t, fx.key, false)
	users, err := s.Users(t.Context(), inventory.UserFilter{Prefix: "r"})
	if err != nil || len(users) != committed {
		t.Errorf("%d updates said they committed, %d users found (%v)", committed, len(users), err)
	}
}
