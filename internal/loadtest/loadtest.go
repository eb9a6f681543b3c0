// Package loadtest is what the server's benchmarks and the load generator
// share: an inventory of users who each hold one TOTP fob whose seed is
// derived from the user's name, so that a separate process can compute
// every user's codes, and a clock that runs faster than the wall clock in
// step with the server's.
package loadtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// seedKey makes the seeds; it is public on purpose: these are test fobs.
var seedKey = []byte("keydesk load test seeds")

// UserName is the name of user i.
func UserName(i int) string { return fmt.Sprintf("load%05d", i) }

// Token is the TOTP fob user holds: SHA-1, 6 digits, 30 s.
func Token(user string) fob.Token {
	m := hmac.New(sha256.New, seedKey)
	m.Write([]byte(user))
	t := fob.Token{Serial: "LT-" + user, Kind: fob.TOTP, Secret: m.Sum(nil)[:20]}
	t.Normalize()
	return t
}

// Build adds n users, each with their fob assigned, in batches so that no
// one transaction grows large.
func Build(ctx context.Context, st *inventory.Store, n int) error {
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		err := st.Update(ctx, func(tx *inventory.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				u, err := tx.AddUser(inventory.User{Name: UserName(i)})
				if err != nil {
					return err
				}
				if err := tx.AddFob(Token(u.Name), 0, u.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load test inventory, users %d to %d: %w", lo, min(lo+batch, n)-1, err)
		}
	}
	return nil
}

// Clock is a clock that starts at Base when the wall clock reads Origin
// and then runs Speed times as fast. The server and the load generator
// each make one from the same three numbers and so agree on the time
// without talking; Speed 1 and a zero Base is the wall clock.
type Clock struct {
	Origin time.Time
	Base   time.Time
	Speed  float64
}

// Now is the clock's time.
func (c Clock) Now() time.Time {
	if c.Speed == 1 && c.Base.IsZero() {
		return time.Now()
	}
	return c.Base.Add(time.Duration(float64(time.Since(c.Origin)) * c.Speed))
}

// Real is how long d of the clock's time takes on the wall clock.
func (c Clock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Speed)
}

// Schedule hands out (user, code) pairs so that no user is asked twice in
// one TOTP step: users in turn, and when every user has had this step's
// code, a wait for the next step. It is safe for concurrent use.
type Schedule struct {
	Users int
	Clock Clock
	Total int64 // pairs to hand out

	mu    sync.Mutex
	sent  int64
	step  int64
	next  int
	waits int64
}

// Take returns the next user, the code their fob shows now and the time
// step it belongs to, or false when Total have been handed out.
func (s *Schedule) Take() (user, code string, step int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent >= s.Total {
		return "", "", 0, false
	}
	probe := Token(UserName(0))
	for {
		now := s.Clock.Now()
		step := probe.Step(now)
		if step > s.step {
			s.step, s.next = step, 0
		}
		if s.next < s.Users {
			user := UserName(s.next)
			s.next++
			s.sent++
			t := Token(user)
			return user, t.Code(uint64(step)), step, true
		}
		// Everyone has had this step's code: wait for the next step.
		s.waits++
		next := time.Unix(int64(step+1)*int64(probe.Period), 0)
		time.Sleep(s.Clock.Real(next.Sub(now)) + time.Millisecond)
	}
}

// Step is the time step the clock is in now.
func (s *Schedule) Step() int64 {
	t := Token(UserName(0))
	return t.Step(s.Clock.Now())
}

// Waits is how many times every user had been asked in a step and Take
// waited for the next.
func (s *Schedule) Waits() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waits
}
