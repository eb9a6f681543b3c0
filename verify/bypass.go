package verify

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"
)

// BypassDigits is the length of a bypass code; OATH codes are 6 to 8
// digits, so the length alone tells the two apart.
const BypassDigits = 9

// ErrTooManyBypass is returned when issuing would pass the live limit.
var ErrTooManyBypass = Refusef("too many live bypass codes")

// BypassRequest asks for bypass codes for a user; zero fields take the
// policy's defaults.
type BypassRequest struct {
	User  string
	Uses  int
	TTL   time.Duration
	Count int
}

// Bypass fills in r's defaults from the policy and refuses a request
// outside the rules: at least one use, a lifetime of a minute or more, and
// no more codes at once than a user may hold.
func (p Policy) Bypass(r BypassRequest) (BypassRequest, error) {
	if r.Uses == 0 {
		r.Uses = p.BypassUses
	}
	if r.TTL == 0 {
		r.TTL = p.BypassTTL
	}
	if r.Count == 0 {
		r.Count = 1
	}
	switch {
	case r.Uses < 1:
		return r, Refusef("a bypass code needs at least one use, not %d", r.Uses)
	case r.TTL < time.Minute:
		return r, Refusef("a bypass code lifetime of %s is under a minute", r.TTL)
	case r.Count < 1 || r.Count > p.BypassMaxLive:
		return r, Refusef("cannot issue %d bypass codes at once (1 to %d)", r.Count, p.BypassMaxLive)
	}
	return r, nil
}

// BypassRoom refuses more codes for a user who holds live ones, past the
// policy's limit.
func (p Policy) BypassRoom(user string, live, more int) error {
	if live+more > p.BypassMaxLive {
		return fmt.Errorf("%w: user %s has %d live codes, and %d more would pass the limit of %d; revoke some first",
			ErrTooManyBypass, user, live, more, p.BypassMaxLive)
	}
	return nil
}

// NewBypassCodes draws n bypass codes, as Duo makes them: 9 decimal
// digits, uniform. r is crypto/rand when nil.
func NewBypassCodes(r io.Reader, n int) ([]string, error) {
	if r == nil {
		r = rand.Reader
	}
	codes := make([]string, n)
	for i := range codes {
		v, err := rand.Int(r, big.NewInt(1_000_000_000))
		if err != nil {
			return nil, fmt.Errorf("failed to draw a bypass code: %w", err)
		}
		codes[i] = fmt.Sprintf("%0*d", BypassDigits, v.Int64())
	}
	return codes, nil
}
