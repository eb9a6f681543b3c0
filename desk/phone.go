package desk

// Phone apps: an authenticator app pairs with a TOTP seed shown once, and
// answers like a fob from its first right code on.

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// PhoneAppSeed is a new phone app, shown once and never again: the
// otpauth:// URI its QR code holds, and the same for typing in by hand.
type PhoneAppSeed struct {
	PhoneApp inventory.PhoneApp `json:"phone_app"`
	// URI is the Key Uri Format's otpauth://totp/ISSUER:ACCOUNT?... with
	// the seed in it.
	URI string `json:"uri"`
	// Secret is the seed in base32, as authenticator apps take it typed in.
	Secret    string `json:"secret"`
	Issuer    string `json:"issuer"`
	Account   string `json:"account"`
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
}

// GroupedSecret is the secret in groups of four, easier to type.
func (s PhoneAppSeed) GroupedSecret() string {
	var b strings.Builder
	for i, r := range s.Secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

var seedBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// maxIssuer bounds the issuer an authenticator app shows beside codes.
const maxIssuer = 64

// AddPhoneApp makes a new phone app for user with a fresh 160-bit seed:
// pending until its first right code ([Desk.ActivatePhoneApp]), and any
// earlier pending one of the user's is abandoned. issuer is the name the
// app shows beside the codes (the institution's).
func (d *Desk) AddPhoneApp(ctx context.Context, user, issuer string) (PhoneAppSeed, error) {
	return d.addPhoneApp(ctx, user, issuer, 0)
}

func (d *Desk) addPhoneApp(ctx context.Context, user, issuer string, linkID int64) (PhoneAppSeed, error) {
	issuer = strings.TrimSpace(issuer)
	if issuer == "" || len(issuer) > maxIssuer || strings.ContainsAny(issuer, ":\x00\n\r") {
		return PhoneAppSeed{}, fmt.Errorf("issuer %q: want 1 to %d characters, no colon", issuer, maxIssuer)
	}
	secret := make([]byte, verify.PhoneSeedBytes)
	if _, err := io.ReadFull(d.rand, secret); err != nil {
		return PhoneAppSeed{}, fmt.Errorf("failed to draw a seed: %w", err)
	}
	var out PhoneAppSeed
	err := d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		expires := tx.Now().Add(verify.DefaultLinkPolicy.Pairing)
		p, err := tx.AddPhoneApp(u.ID, secret, issuer, u.Name, d.actor, expires, linkID)
		if err != nil {
			return err
		}
		out = newSeed(p, secret)
		return tx.Audit(d.actor, "phone add", "user "+u.Name, fmt.Sprintf("phone app #%d shown, waiting for its first code until %s", p.ID, expires.UTC().Format(time.RFC3339)))
	})
	if err != nil {
		return PhoneAppSeed{}, err
	}
	return out, nil
}

func newSeed(p inventory.PhoneApp, secret []byte) PhoneAppSeed {
	s := PhoneAppSeed{PhoneApp: p, Secret: seedBase32.EncodeToString(secret), Issuer: p.Issuer, Account: p.Account,
		Algorithm: "SHA1", Digits: verify.PhoneDigits, Period: verify.PhonePeriod}
	q := url.Values{}
	q.Set("secret", s.Secret)
	q.Set("issuer", s.Issuer)
	q.Set("algorithm", s.Algorithm)
	q.Set("digits", fmt.Sprint(s.Digits))
	q.Set("period", fmt.Sprint(s.Period))
	// The Key Uri Format: the label is "issuer:account", and the issuer
	// parameter repeats it for apps that read only one of the two.
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + s.Issuer + ":" + s.Account, RawQuery: q.Encode()}
	s.URI = u.String()
	return s
}

// ActivatePhoneApp pairs a pending phone app of user's with the first
// code it shows: a right code makes it a fob that answers from then on
// (and never takes that code again); a wrong one is refused, says so,
// and changes nothing: it is no failed login and locks nobody. A phone
// app made through a portal link uses the link up.
func (d *Desk) ActivatePhoneApp(ctx context.Context, user string, id int64, code string) (inventory.PhoneApp, error) {
	var out inventory.PhoneApp
	err := d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if u.Disabled {
			return verify.Refusef("user %s is disabled", u.Name)
		}
		p, err := tx.PhoneApp(u.ID, id)
		if err != nil {
			return err
		}
		if p.State != inventory.PhonePending {
			return fmt.Errorf("%w: phone app #%d of %s is %s, not waiting for its first code", ErrState, id, u.Name, p.State)
		}
		if !tx.Now().Before(p.ExpiresAt) {
			return fmt.Errorf("%w (phone app #%d was shown at %s)", verify.ErrPairingExpired, id, p.CreatedAt.Local().Format("2006-01-02 15:04 MST"))
		}
		secret, err := tx.PendingPhoneSecret(id)
		if err != nil {
			return err
		}
		serial := inventory.PhoneSerial(id)
		tok := verify.PhoneToken(serial, secret, p.Issuer, p.Account)
		use, err := d.ver.Policy().PairPhoneApp(tok, code, tx.Now())
		if err != nil {
			return err
		}
		if err := tx.AddFob(tok, 0, u.ID); err != nil {
			return err
		}
		fobID, err := tx.FobID(serial)
		if err != nil {
			return err
		}
		if err := tx.RecordFobUse(fobID, use); err != nil {
			return err
		}
		if err := tx.PairPhoneApp(id, fobID); err != nil {
			return err
		}
		if err := useLink(tx, p.LinkID); err != nil {
			return err
		}
		if out, err = tx.PhoneApp(u.ID, id); err != nil {
			return err
		}
		return tx.Audit(d.actor, "phone activate", "user "+u.Name, fmt.Sprintf("phone app #%d paired with its first code; it answers as fob %s", id, serial))
	})
	if err != nil {
		return inventory.PhoneApp{}, err
	}
	return out, nil
}

// useLink spends the link a device came through, if any: of two devices
// racing to finish one enrolment, only the first is taken.
func useLink(tx *inventory.Tx, linkID int64) error {
	if linkID == 0 {
		return nil
	}
	ok, err := tx.UseLink(linkID)
	if err != nil || ok {
		return err
	}
	l, err := tx.Link(linkID)
	if err != nil {
		return err
	}
	return refuseLink(verify.OpenLink(l, l.Kind, tx.Now()))
}

// RemovePhoneApp takes a phone app out of use: a pending one is
// abandoned, its seed forgotten; a paired one's fob is revoked and stays
// on record.
func (d *Desk) RemovePhoneApp(ctx context.Context, user string, id int64) error {
	return d.phoneChange(ctx, user, id, "remove", func(tx *inventory.Tx, p inventory.PhoneApp, fobID int64) error {
		switch p.State {
		case inventory.PhonePending:
			return tx.AbandonPhoneApp(p.ID)
		case inventory.PhoneActive, inventory.PhoneLost:
			return tx.SetFobState(fobID, inventory.Revoked)
		}
		return fmt.Errorf("%w: phone app #%d is %s already", ErrState, p.ID, p.State)
	})
}

// ReportPhoneLost disables a paired phone app at once (its fob is lost);
// it stays on record, and a code from it is refused and audited.
func (d *Desk) ReportPhoneLost(ctx context.Context, user string, id int64) error {
	return d.phoneChange(ctx, user, id, "lost", func(tx *inventory.Tx, p inventory.PhoneApp, fobID int64) error {
		if p.State != inventory.PhoneActive {
			return fmt.Errorf("%w: phone app #%d is %s, not active", ErrState, p.ID, p.State)
		}
		return tx.SetFobState(fobID, inventory.Lost)
	})
}

func (d *Desk) phoneChange(ctx context.Context, user string, id int64, action string, change func(tx *inventory.Tx, p inventory.PhoneApp, fobID int64) error) error {
	return d.update(ctx, func(tx *inventory.Tx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		p, err := tx.PhoneApp(u.ID, id)
		if err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		var fobID int64
		if p.FobSerial != "" {
			if fobID, err = tx.FobID(p.FobSerial); err != nil {
				return err
			}
		}
		if err := change(tx, p, fobID); err != nil {
			return err
		}
		detail := fmt.Sprintf("phone app #%d (was %s)", p.ID, p.State)
		if p.FobSerial != "" {
			detail += ", fob " + p.FobSerial
		}
		return tx.Audit(d.actor, "phone "+action, "user "+u.Name, detail)
	})
}

// PhoneApps lists a user's phone apps, pending and abandoned ones too.
func (d *Desk) PhoneApps(ctx context.Context, user string) ([]inventory.PhoneApp, error) {
	if _, err := d.store.User(ctx, user); err != nil {
		return nil, err
	}
	return nonNil(d.store.PhoneApps(ctx, user))
}

// refusePhoneFob refuses to move a phone app's fob between holders: its
// seed is on one person's phone.
func refusePhoneFob(tx *inventory.Tx, f *inventory.Fob, action string) error {
	p, isPhone, err := tx.PhoneAppOfFob(f.ID)
	if err != nil || !isPhone {
		return err
	}
	return fmt.Errorf("%w: cannot %s fob %s: it is phone app #%d of %s; use keydesk phone remove", ErrState, action, f.Token.Serial, p.ID, p.User)
}
