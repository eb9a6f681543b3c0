// Package verify makes keydesk's decisions: whether a code is right for a
// fob or a user, under the help desk's rules (windows, drift, replay,
// lockout, bypass codes). It is the only package that decides; the
// inventory only keeps rows.
package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
)

// Policy holds the help desk's rules; each is a setting.
type Policy struct {
	HOTPWindow     int // codes looked ahead of the counter
	ResyncWindow   int // counters or steps searched for a resync
	TOTPSkew       int // steps accepted either side of the expected one
	ReplayLookback int // HOTP counters looked back to say "already used"
	LockoutAfter   int // consecutive failures that lock a fob or user
	// LockoutCooldown is how long a lock lasts before it ends by itself;
	// 0 means only an admin unlocks.
	LockoutCooldown time.Duration
	// ReplayGrace is how long a replay of the code last accepted for a
	// fob proves possession rather than counting as a failed guess: 64
	// copies of one right code sent at once are 1 allow and 63 replays,
	// and must not lock the user out.
	ReplayGrace   time.Duration
	BypassUses    int           // default uses of a bypass code
	BypassTTL     time.Duration // default lifetime of a bypass code
	BypassMaxLive int           // live bypass codes a user may have
}

// DefaultPolicy is the help desk's usual rules.
var DefaultPolicy = Policy{
	HOTPWindow:      10,
	ResyncWindow:    1000,
	TOTPSkew:        1,
	ReplayLookback:  10,
	LockoutAfter:    10,
	LockoutCooldown: 15 * time.Minute,
	ReplayGrace:     5 * time.Minute,
	BypassUses:      1,
	BypassTTL:       time.Hour,
	BypassMaxLive:   100,
}

// Reasons a passcode is denied. A Decision's Denial wraps one of them.
var (
	ErrWrongCode    = errors.New("wrong code")
	ErrReplay       = errors.New("code already used")
	ErrMalformed    = errors.New("malformed code")
	ErrFobLocked    = errors.New("fob is locked")
	ErrUserLocked   = errors.New("user is locked")
	ErrLost         = errors.New("fob reported lost")
	ErrRevoked      = errors.New("fob revoked")
	ErrUnknownFob   = errors.New("unknown fob")
	ErrUnknownUser  = errors.New("unknown user")
	ErrUserDisabled = errors.New("user is disabled")
	ErrNoFactor     = errors.New("user has no usable fob or bypass code")
	ErrExhausted    = errors.New("fob counter exhausted")
	ErrFobExpired   = errors.New("fob outside its dates")

	// A bypass code that was real once says which way it ended.
	ErrBypassExpired = errors.New("bypass code expired")
	ErrBypassUsedUp  = errors.New("bypass code used up")
	ErrBypassRevoked = errors.New("bypass code revoked")
)

var reasonCodes = map[error]string{
	ErrWrongCode: "wrong_code", ErrReplay: "replay", ErrMalformed: "malformed",
	ErrFobLocked: "fob_locked", ErrUserLocked: "user_locked", ErrLost: "lost",
	ErrRevoked: "revoked", ErrUnknownFob: "unknown_fob", ErrUnknownUser: "unknown_user",
	ErrUserDisabled: "user_disabled", ErrNoFactor: "no_factor", ErrExhausted: "exhausted",
	ErrCounter: "key_counter", ErrNoKey: "unknown_key", ErrBadSignature: "bad_signature", ErrNoPresence: "no_presence",
	ErrFobExpired: "fob_expired", ErrBypassExpired: "bypass_expired", ErrBypassUsedUp: "bypass_used_up", ErrBypassRevoked: "bypass_revoked",
}

// Decision is the answer to "is this code right?" or "is this the user's
// key?".
type Decision struct {
	Allow  bool
	Denial error  // why not, wrapping one of the Err values; nil when allowed
	Method string // "fob", "bypass" or "key"
	Serial string // the fob that answered, if any
	// The key that answered a touch, and its signature counter.
	KeyID    int64
	KeyName  string
	KeyModel string
	Counter  uint32
	// Drift is the TOTP drift learned, in steps, when a TOTP fob answered.
	Drift int
	// UsesLeft is what remains of the bypass code used.
	UsesLeft int
	// LockedNow is set when this very denial locked the fob or the user.
	LockedNow bool
	// Possession marks a replay of the code accepted moments ago: the
	// caller holds the factor, so the denial is no failed guess and does
	// not count toward the lockout.
	Possession bool
	// BypassID is the bypass code that answered, or was tried.
	BypassID int64
}

// Factor names the factor that answered or was refused, as the
// authentication log shows it: "fob F100", `key #2 "blue"`, "bypass code
// #4"; empty when none was identified.
func (d Decision) Factor() string {
	switch {
	case d.Method == "key" && d.KeyID != 0:
		return d.KeyLabel()
	case d.Method == "bypass" && d.BypassID != 0:
		return fmt.Sprintf("bypass code #%d", d.BypassID)
	case d.Method == "bypass":
		return "bypass code"
	case d.Serial != "":
		return "fob " + d.Serial
	}
	return ""
}

// Origin is where a decision was asked for, as the authentication log
// records it.
type Origin struct {
	Transport      string // cli, http, radius, web
	App            string // the application or RADIUS client asking
	Source         string // the caller's address, or the clerk at the CLI
	NASIdentifier  string // RADIUS NAS-Identifier (RFC 2865 §5.32)
	NASIP          string // RADIUS NAS-IP-Address (§5.4)
	CallingStation string // RADIUS Calling-Station-Id (§5.31)
}

// Record writes a decision in the authentication log, in the decision's
// own transaction: the one way an entry is made.
func Record(tx *inventory.Tx, user string, from Origin, d Decision) error {
	result := "deny"
	if d.Allow {
		result = "allow"
	}
	return tx.LogAuth(inventory.AuthEntry{User: user, Factor: d.Factor(), Transport: from.Transport, App: from.App,
		Source: from.Source, NASIdentifier: from.NASIdentifier, NASIP: from.NASIP, CallingStation: from.CallingStation,
		Result: result, ReasonCode: d.ReasonCode(), Reason: d.Reason()})
}

// Reason is a sentence a clerk can act on.
func (d Decision) Reason() string {
	if d.Allow {
		switch d.Method {
		case "bypass":
			return fmt.Sprintf("bypass code accepted (%d uses left)", d.UsesLeft)
		case "key":
			return "touch accepted from " + d.KeyLabel()
		}
		return "code accepted from fob " + d.Serial
	}
	return d.Denial.Error()
}

// KeyLabel names the key that answered: key #3 "blue key".
func (d Decision) KeyLabel() string { return fmt.Sprintf("key #%d %q", d.KeyID, d.KeyName) }

// ReasonCode is a stable word for scripts and metrics.
func (d Decision) ReasonCode() string {
	if d.Allow {
		return "ok"
	}
	for err, code := range reasonCodes {
		if errors.Is(d.Denial, err) {
			return code
		}
	}
	return "denied"
}

// DecisionView is a decision as keydesk shows it: the CLI's --json, and
// (with the details a caller may see) the answers of the HTTP API.
type DecisionView struct {
	Result     string   `json:"result"` // "allow" or "deny"
	Reason     string   `json:"reason"`
	ReasonCode string   `json:"reason_code"`
	Method     string   `json:"method,omitempty"`
	Serial     string   `json:"serial,omitempty"`
	Key        *KeyView `json:"key,omitempty"`
	Drift      int      `json:"drift,omitempty"`
	UsesLeft   int      `json:"uses_left,omitempty"`
}

// KeyView is the key that answered a touch.
type KeyView struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Model   string `json:"model,omitempty"`
	Counter uint32 `json:"counter"`
}

// View is the decision with every detail, for the help desk.
func (d Decision) View() DecisionView {
	v := DecisionView{Result: "deny", Reason: d.Reason(), ReasonCode: d.ReasonCode(), Method: d.Method,
		Serial: d.Serial, Drift: d.Drift, UsesLeft: d.UsesLeft}
	if d.Allow {
		v.Result = "allow"
	}
	if d.KeyID != 0 {
		v.Key = &KeyView{ID: d.KeyID, Name: d.KeyName, Model: d.KeyModel, Counter: d.Counter}
	}
	return v
}

func deny(err error, format string, args ...any) Decision {
	if format == "" {
		return Decision{Denial: err}
	}
	return Decision{Denial: fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))}
}

// Verifier decides on codes against one inventory.
type Verifier struct {
	store   *inventory.Store
	policy  Policy
	denials denialPace
}

// New returns a verifier with policy p.
func New(store *inventory.Store, p Policy) *Verifier {
	return &Verifier{store: store, policy: p}
}

// Policy is the verifier's rules.
func (v *Verifier) Policy() Policy { return v.policy }

// VerifySerial tests the code a fob shows, as a clerk does at the counter.
// The decision and its effects (counter, drift, failure count, lock) are
// committed before it returns. An error means no decision was made; it is
// never an allow.
func (v *Verifier) VerifySerial(ctx context.Context, serial, code string, from Origin) (Decision, error) {
	code = fob.NormalizeCode(code)
	var d Decision
	err := v.store.Update(ctx, func(tx *inventory.Tx) error {
		f, err := tx.FobToCheck(serial)
		if errors.Is(err, inventory.ErrNotFound) {
			d = deny(ErrUnknownFob, "no fob with serial %q", serial)
			return Record(tx, "", from, d)
		}
		if err != nil {
			return err
		}
		if d, err = v.fobDecision(tx, &f, code); err != nil {
			return err
		}
		return Record(tx, f.User, from, d)
	})
	return d, err
}

func (v *Verifier) fobDecision(tx *inventory.Tx, f *inventory.Fob, code string) (Decision, error) {
	if err := v.endFobLock(tx, f); err != nil {
		return Decision{}, err
	}
	if d := v.policy.refuseFob(f, tx.Now()); d.Denial != nil {
		d.Serial = f.Token.Serial
		return d, v.auditRetired(tx, f, code)
	}
	return v.settle(tx, f, v.check(f, code, tx.Now()))
}

// refuseFob says why a fob cannot answer at all at now, if it cannot.
func (p Policy) refuseFob(f *inventory.Fob, now time.Time) Decision {
	t := &f.Token
	switch {
	case f.State == inventory.Lost:
		return deny(ErrLost, "fob %s was reported lost on %s", t.Serial, day(f.StateAt))
	case f.State == inventory.Revoked:
		return deny(ErrRevoked, "fob %s was revoked on %s", t.Serial, day(f.StateAt))
	case !t.NotBefore.IsZero() && now.Before(t.NotBefore):
		return deny(ErrFobExpired, "fob %s may be used from %s, by its seed file's dates", t.Serial, clock(t.NotBefore))
	case !t.NotAfter.IsZero() && !now.Before(t.NotAfter):
		return deny(ErrFobExpired, "fob %s expired at %s, by its seed file's dates; it needs replacing", t.Serial, clock(t.NotAfter))
	case p.Locked(f.LockedAt, now):
		return deny(ErrFobLocked, "fob %s is locked after %d failures since %s; %s (keydesk fob unlock %s)",
			t.Serial, f.FailCount, clock(f.LockedAt), p.lockEnds(f.LockedAt), t.Serial)
	}
	return Decision{}
}

// auditRetired writes in the audit log that a code was sent for a fob
// reported lost or revoked, and whether it was right: someone may be
// holding a stolen fob.
func (v *Verifier) auditRetired(tx *inventory.Tx, f *inventory.Fob, code string) error {
	if f.State != inventory.Lost && f.State != inventory.Revoked {
		return nil
	}
	what := "a wrong code"
	if v.check(f, code, tx.Now()).denial == nil {
		what = "a right code"
	}
	return tx.Audit("keydesk", "code from "+string(f.State)+" fob", "fob "+f.Token.Serial,
		fmt.Sprintf("%s was sent for fob %s, %s on %s%s", what, f.Token.Serial, f.State, day(f.StateAt), holderNote(f)))
}

func holderNote(f *inventory.Fob) string {
	if f.User == "" {
		return ""
	}
	return ", held by " + f.User
}

// settle records a fob's match or failure and returns the decision.
func (v *Verifier) settle(tx *inventory.Tx, f *inventory.Fob, m match) (Decision, error) {
	if m.denial == nil {
		if err := tx.RecordFobUse(f.ID, m.use); err != nil {
			return Decision{}, err
		}
		return Decision{Allow: true, Serial: f.Token.Serial, Method: "fob", Drift: m.use.Drift}, nil
	}
	d := Decision{Denial: m.denial, Serial: f.Token.Serial, Method: "fob", Possession: m.possession}
	if errors.Is(m.denial, ErrReplay) {
		if err := auditReplay(tx, "fob "+f.Token.Serial, d); err != nil {
			return Decision{}, err
		}
	}
	if !m.counts || m.possession {
		return d, nil
	}
	n, lockedNow, err := tx.RecordFobFailure(f.ID, v.policy.LockoutAfter)
	if err != nil {
		return Decision{}, err
	}
	if lockedNow {
		d.LockedNow = true
		d.Denial = fmt.Errorf("%w; fob %s is now locked after %d failures (%s)", m.denial, f.Token.Serial, n, v.policy.lockEnds(tx.Now()))
		if err := tx.Audit("keydesk", "fob locked", "fob "+f.Token.Serial, fmt.Sprintf("%d consecutive failures; %s", n, v.policy.lockEnds(tx.Now()))); err != nil {
			return Decision{}, err
		}
	}
	return d, nil
}

// auditReplay writes a replayed code in the audit log: a replay of a code
// accepted moments ago is a retransmission or a double submit, an older
// one may be a code seen over someone's shoulder.
func auditReplay(tx *inventory.Tx, subject string, d Decision) error {
	detail := "a code used before was sent again"
	if d.Possession {
		detail += " moments after it was accepted (not counted as a failure)"
	}
	return tx.Audit("keydesk", "replay refused", subject, detail)
}

func day(t time.Time) string { return t.Local().Format("2006-01-02") }

// clock is how a reason names a moment: local time with its zone.
func clock(t time.Time) string { return t.Local().Format("2006-01-02 15:04 MST") }
