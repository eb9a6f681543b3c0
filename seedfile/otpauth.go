package seedfile

import (
	"bufio"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keydesk/keydesk/fob"
)

// otpauth:// URIs follow the Key Uri Format (Google Authenticator wiki):
//
//	otpauth://TYPE/LABEL?secret=BASE32&issuer=...&algorithm=SHA1&digits=6&period=30&counter=0
//
// TYPE is hotp or totp; LABEL is "account" or "issuer:account"; secret is
// base32 (RFC 4648 §6) with padding optional; counter is required for hotp.
// keydesk takes the serial from a serial parameter, else the whole label.

type otpauthReader struct {
	lineFile
}

func newOTPAuthReader(name string, r *bufio.Reader) *otpauthReader {
	return &otpauthReader{lineFile: newLineFile(name, OTPAuth, r)}
}

func (o *otpauthReader) Next() (fob.Token, error) {
	for {
		line, err := o.nextLine()
		if err != nil {
			return fob.Token{}, err
		}
		if line[0] == '#' {
			continue
		}
		if o.rows++; o.rows > maxTokens {
			return o.fail("", fmt.Errorf("more than %d URIs", maxTokens))
		}
		t, err := parseOTPAuth(line)
		if err == nil {
			err = finish(&t)
		}
		if err != nil {
			return o.fail(t.Serial, err)
		}
		if prev := o.serials.add(t.Serial, o.lines.line); prev != 0 {
			return o.fail(t.Serial, fmt.Errorf("%w: also on line %d", ErrDuplicate, prev))
		}
		return t, nil
	}
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// parseOTPAuth reads one key URI. Its errors never quote the URI, which
// holds the secret.
func parseOTPAuth(s string) (fob.Token, error) {
	var t fob.Token
	if !strings.HasPrefix(strings.ToLower(s), "otpauth://") {
		return t, errors.New("not an otpauth:// URI")
	}
	u, err := url.Parse(s)
	if err != nil {
		return t, errors.New("malformed otpauth:// URI")
	}
	label := strings.TrimPrefix(u.Path, "/")
	q, err := parseQuery(u.RawQuery)
	if err != nil {
		return fob.Token{Serial: label}, err
	}
	t.Serial = label
	if v := q["serial"]; v != "" {
		t.Serial = v
	}
	t.Issuer = q["issuer"]
	t.Label = label
	if i := strings.IndexByte(label, ':'); i >= 0 {
		if t.Issuer == "" {
			t.Issuer = label[:i]
		}
		t.Label = strings.TrimSpace(label[i+1:])
	}
	switch strings.ToLower(u.Host) {
	case "hotp":
		t.Kind = fob.HOTP
		c := q["counter"]
		if c == "" {
			return fob.Token{Serial: t.Serial}, errors.New("hotp URI without counter")
		}
		if t.Counter, err = strconv.ParseUint(c, 10, 64); err != nil {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("counter %q is not a number", c)
		}
	case "totp":
		t.Kind = fob.TOTP
		if p := q["period"]; p != "" {
			if t.Period, err = strconv.Atoi(p); err != nil || t.Period <= 0 {
				return fob.Token{Serial: t.Serial}, fmt.Errorf("period %q is not a positive number", p)
			}
		}
	default:
		return fob.Token{Serial: t.Serial}, fmt.Errorf("%w: OTP type %q (want hotp or totp)", ErrUnsupported, truncate(u.Host, 20))
	}
	if a := q["algorithm"]; a != "" {
		if t.Algorithm, err = fob.ParseAlgorithm(a); err != nil {
			return fob.Token{Serial: t.Serial}, err
		}
	}
	if d := q["digits"]; d != "" {
		if t.Digits, err = strconv.Atoi(d); err != nil {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("digits %q is not a number", d)
		}
		if t.Digits < 6 || t.Digits > 8 {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("wrong digit count %d (want 6, 7 or 8)", t.Digits)
		}
	}
	secret := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(q["secret"], " ", ""), "="))
	if secret == "" {
		return fob.Token{Serial: t.Serial}, errors.New("missing secret")
	}
	if t.Secret, err = b32.DecodeString(secret); err != nil {
		var ce base32.CorruptInputError
		if errors.As(err, &ce) {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("bad base32 in secret at character %d", int64(ce)+1)
		}
		return fob.Token{Serial: t.Serial}, errors.New("bad base32 in secret")
	}
	return t, nil
}

// otpauthParams are the parameters the Key Uri Format defines, plus
// keydesk's serial; only these are named in errors, as anything else might
// be a secret pasted in the wrong place.
var otpauthParams = []string{"secret", "issuer", "algorithm", "digits", "counter", "period", "serial", "image"}

// parseQuery splits a query into its parameters, names in lower case. A
// parameter given twice is refused: readers disagree on which one wins
// (Go's url.Values.Get takes the first, others the last), so two secrets
// or two counters would mean one fob to keydesk and another to a phone.
func parseQuery(raw string) (map[string]string, error) {
	q := make(map[string]string)
	for i, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return nil, errors.New("malformed query in otpauth:// URI: ';' is no separator")
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errors.New("malformed query in otpauth:// URI")
		}
		k = strings.ToLower(k)
		if _, dup := q[k]; dup {
			if slices.Contains(otpauthParams, k) {
				return nil, fmt.Errorf("parameter %q given twice", k)
			}
			return nil, fmt.Errorf("parameter %d repeats an earlier one", i+1)
		}
		q[k] = v
	}
	return q, nil
}
