package server

// What a RADIUS client's Access-Request carries, by its mode
// (docs/configuration.md): otp, the passcode alone; password+otp, the directory password
// and the passcode in one User-Password; challenge, the password first,
// then the passcode after an Access-Challenge (RFC 2865 §4.4).

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"layeh.com/radius"

	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// RADIUS attribute types of the answers (RFC 2865 §5.11, §5.24, §5.25).
const (
	attrFilterID radius.Type = 11
	attrState    radius.Type = 24
	attrClass    radius.Type = 25
)

// stateLen is the random part of an Access-Challenge's State: 128 bits
// and more, so that a State is never guessed.
const stateLen = 24

// reply is what a decision answers: the packet's code, the Reply-Message
// and the attributes after it.
type reply struct {
	code    radius.Code
	message string
	attrs   []*radius.AVP
}

func reject(msg string) reply { return reply{code: radius.CodeAccessReject, message: msg} }

// errWrongPasswordOrCode is what a client hears of a wrong password and
// a wrong code alike, in the modes that take both: which one was wrong
// helps only a guesser. The authentication log tells them apart.
const wrongPasswordOrCode = "wrong password or passcode"

// decide reads an authentic request by its client's mode. An Access-Reject
// says why, in the words the client may hear; err means no decision could
// be made (no answer is sent, and the client retries).
func (rs *radiusServer) decide(ctx context.Context, req radiusRequest, start time.Time) (reply, error) {
	s := rs.s
	user, secret, refusal := credentials(req)
	if refusal != nil {
		return reject(refusal.Error()), nil
	}
	if ok, _ := s.users.allow(user, s.now()); !ok {
		s.m.limited.WithLabelValues(radiusTransport, "user").Inc()
		return reject("too many attempts for user " + user + "; try again later"), nil
	}
	switch req.client.mode {
	case inventory.ModePasswordOTP:
		return rs.passwordAndCode(ctx, req, user, secret, start)
	case inventory.ModeChallenge:
		if state := attrValues(req.attrs, attrState); len(state) > 0 {
			return rs.challengeAnswered(ctx, req, user, secret, state, start)
		}
		return rs.challenge(ctx, req, user, secret, start)
	}
	return rs.passcode(ctx, req, user, secret, nil, start)
}

// passcode has the verifier decide on a passcode, and answers what the
// client may hear of it, with the group attributes on an accept.
func (rs *radiusServer) passcode(ctx context.Context, req radiusRequest, user, code string, entry *directory.Entry, start time.Time) (reply, error) {
	s := rs.s
	if err := checkPasscode(code); err != nil {
		return reject(err.Error()), nil
	}
	from := req.origin()
	d, err := s.deps.Decider.VerifyUser(ctx, user, code, from)
	if err != nil {
		return reply{}, err
	}
	s.decided(from, user, d, time.Since(start))
	msg := answerOf(d, req.client.detailed).Reason
	if !d.Allow {
		if req.client.mode != inventory.ModeOTP {
			msg = wrongPasswordOrCode
		}
		return reject(msg), nil
	}
	return reply{code: radius.CodeAccessAccept, message: msg, attrs: rs.groupAttributes(ctx, user, entry)}, nil
}

// password checks a user's directory password, and says what to answer
// when it is not right (refused is false when it is, or when the
// directory is down and the fail mode lets the passcode decide alone).
func (rs *radiusServer) password(ctx context.Context, req radiusRequest, user, password string, start time.Time) (entry *directory.Entry, refused *reply, err error) {
	s := rs.s
	from := req.origin()
	if s.deps.Directory == nil {
		return nil, nil, errors.New("the client's mode needs a directory, and the server has none configured")
	}
	began := time.Now()
	e, err := s.deps.Directory.Authenticate(ctx, user, password)
	result := "ok"
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		result = "unavailable"
	case err != nil:
		result = "refused"
	}
	s.m.directory.WithLabelValues(result).Observe(time.Since(began).Seconds())
	switch {
	case err == nil:
		return &e, nil, nil
	case errors.Is(err, directory.ErrUnavailable) && s.cfg.Directory.FailMode == directory.FailSafe:
		s.log.Warn("directory unavailable: the passcode alone decides (fail_mode safe)", "user", user, "client", req.client.name, "err", err)
		if aerr := s.deps.Desk.RecordDirectoryDown(ctx, user, req.client.name, err); aerr != nil {
			return nil, nil, aerr
		}
		return nil, nil, nil
	case errors.Is(err, directory.ErrUnavailable):
		d, rerr := s.deps.Decider.Refuse(ctx, user, from, verify.ErrDirectoryDown, "the directory could not check the password (%v); fail_mode secure refuses", err)
		if rerr != nil {
			return nil, nil, rerr
		}
		s.decided(from, user, d, time.Since(start))
		r := reject("the password cannot be checked now; try again later")
		return nil, &r, nil
	case errors.Is(err, directory.ErrBadCredentials), errors.Is(err, directory.ErrNoSuchUser),
		errors.Is(err, directory.ErrDisabled), errors.Is(err, directory.ErrAmbiguous):
		d, rerr := s.deps.Decider.Refuse(ctx, user, from, verify.ErrWrongPassword, "the directory refused the password of user %s: %v", user, err)
		if rerr != nil {
			return nil, nil, rerr
		}
		s.decided(from, user, d, time.Since(start))
		r := reject(wrongPasswordOrCode)
		return nil, &r, nil
	}
	return nil, nil, err
}

// passwordAndCode is password+otp mode: "password,passcode", split at the
// last delimiter, or with the passcode appended with no delimiter when
// only one of the user's code lengths fits the end. The password is
// checked first; only a right password lets the code be checked, so a
// wrong password spends no code and counts toward no keydesk lockout.
func (rs *radiusServer) passwordAndCode(ctx context.Context, req radiusRequest, user, secret string, start time.Time) (reply, error) {
	lengths, err := rs.s.deps.Decider.CodeLengths(ctx, user)
	if err != nil {
		return reply{}, err
	}
	password, code, ok := splitPasswordCode(secret, rs.s.cfg.PasswordDelimiter, lengths)
	if !ok {
		return reject(fmt.Sprintf("send the password and the passcode as password%spasscode", rs.s.cfg.PasswordDelimiter)), nil
	}
	entry, refused, err := rs.password(ctx, req, user, password, start)
	if err != nil || refused != nil {
		return derefReply(refused), err
	}
	return rs.passcode(ctx, req, user, code, entry, start)
}

func derefReply(r *reply) reply {
	if r == nil {
		return reply{}
	}
	return *r
}

// splitPasswordCode cuts what a user typed into the directory password
// and the passcode: at the last delimiter, or, with none, where the end
// has the shape of exactly one of the user's code lengths (Duo's append
// mode).
func splitPasswordCode(secret, delim string, lengths []int) (password, code string, ok bool) {
	if i := strings.LastIndex(secret, delim); i >= 0 {
		password, code = secret[:i], secret[i+len(delim):]
		return password, code, password != "" && code != ""
	}
	var fits []int
	for _, n := range lengths {
		if n < len(secret) && codeShaped(secret[len(secret)-n:], n) {
			fits = append(fits, n)
		}
	}
	if len(fits) != 1 {
		return "", "", false
	}
	n := fits[0]
	return secret[:len(secret)-n], secret[len(secret)-n:], true
}

// codeShaped reports whether s looks like an n-character code: digits for
// OATH codes, modhex for a Yubico OTP.
func codeShaped(s string, n int) bool {
	if n <= 8 {
		return fob.IsDigits(s, n)
	}
	_, _, err := fob.SplitYubicoOTP(s)
	return err == nil
}

// challenge is the first request of challenge mode: the password alone.
// A right one is answered with an Access-Challenge whose State (random,
// single use, short-lived, bound to the user and the client) the client
// sends back with the passcode.
func (rs *radiusServer) challenge(ctx context.Context, req radiusRequest, user, password string, start time.Time) (reply, error) {
	_, refused, err := rs.password(ctx, req, user, password, start)
	if err != nil || refused != nil {
		return derefReply(refused), err
	}
	state := make([]byte, stateLen)
	if _, err := rand.Read(state); err != nil {
		return reply{}, err
	}
	ttl := time.Duration(rs.s.cfg.ChallengeTTL)
	if err := rs.s.deps.Desk.AddRADIUSState(ctx, state, inventory.RADIUSState{User: user, Client: req.client.name, ExpiresAt: rs.s.now().Add(ttl)}); err != nil {
		return reply{}, err
	}
	return reply{code: radius.CodeAccessChallenge, message: rs.s.cfg.ChallengePrompt,
		attrs: []*radius.AVP{{Type: attrState, Attribute: state}}}, nil
}

// challengeAnswered is the second request of challenge mode: the State of
// the challenge and the passcode. A State used before, expired, never
// handed out, or handed to another client or user is refused.
func (rs *radiusServer) challengeAnswered(ctx context.Context, req radiusRequest, user, code string, state []radius.Attribute, start time.Time) (reply, error) {
	s := rs.s
	from := req.origin()
	refuse := func(why string) (reply, error) {
		d, err := s.deps.Decider.Refuse(ctx, user, from, verify.ErrWrongCode, "%s", why)
		if err != nil {
			return reply{}, err
		}
		s.decided(from, user, d, time.Since(start))
		return reject("the challenge is no longer good; log in again"), nil
	}
	if len(state) != 1 || len(state[0]) != stateLen {
		return refuse("the State attribute is not one keydesk gave")
	}
	st, found, err := s.deps.Desk.TakeRADIUSState(ctx, state[0])
	switch {
	case err != nil:
		return reply{}, err
	case !found:
		return refuse("the challenge's State was used before, expired, or was never given")
	case st.Client != req.client.name:
		return refuse(fmt.Sprintf("the challenge's State was given to RADIUS client %s, not %s", st.Client, req.client.name))
	case !strings.EqualFold(st.User, user):
		return refuse(fmt.Sprintf("the challenge's State was given for user %s, not %s", st.User, user))
	}
	return rs.passcode(ctx, req, user, code, nil, start)
}

// groupAttributes are the Filter-Id and Class attributes the user's
// directory groups earn (Config.GroupAttributes), for an Access-Accept.
// A directory that cannot say leaves them out: the accept stands, and
// the VPN applies its default rules.
func (rs *radiusServer) groupAttributes(ctx context.Context, user string, entry *directory.Entry) []*radius.AVP {
	s := rs.s
	if len(s.cfg.GroupAttributes) == 0 || s.deps.Directory == nil {
		return nil
	}
	if entry == nil {
		e, err := s.deps.Directory.Lookup(ctx, user)
		if err != nil {
			s.log.Warn("no group attributes: the directory could not look the user up", "user", user, "err", err)
			return nil
		}
		entry = &e
	}
	groups, err := s.deps.Directory.Groups(ctx, *entry)
	if err != nil {
		s.log.Warn("no group attributes: the directory could not list the user's groups", "user", user, "err", err)
		return nil
	}
	member := map[string]bool{}
	for _, g := range groups {
		member[strings.ToLower(g)] = true
	}
	var out []*radius.AVP
	for _, ga := range s.cfg.GroupAttributes {
		if !member[strings.ToLower(ga.Group)] {
			continue
		}
		if ga.FilterID != "" {
			out = append(out, &radius.AVP{Type: attrFilterID, Attribute: radius.Attribute(ga.FilterID)})
		}
		if ga.Class != "" {
			out = append(out, &radius.AVP{Type: attrClass, Attribute: radius.Attribute(ga.Class)})
		}
	}
	return out
}
