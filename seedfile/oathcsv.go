package seedfile

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"strconv"
	"strings"

	"github.com/keydesk/keydesk/fob"
)

// OATH CSV is the plain seed list token vendors and OTP servers exchange.
// The layouts, as privacyIDEA and LinOTP read them:
//
//	serial, seed-hex[, hotp|totp[, digits[, counter-or-step[, hash]]]]
//
// The sixth column (hash: sha1, sha256, sha512) is LinOTP's; when it is
// absent the hash is guessed from the seed length as both do: 32 bytes
// SHA-256, 64 bytes SHA-512, anything else SHA-1. For HOTP the fifth column
// is the counter, for TOTP the time step in seconds.
//
// A first line "# version: 2" puts the user in front. privacyIDEA writes
// three columns there (user, resolver, realm); a single user column is
// accepted too, told apart by where the type column falls. keydesk has no
// resolvers or realms, so those two are not kept. An empty user column
// leaves the fob in stock; one of white space only is refused, and a user
// name must pass fob.CheckUserName. A leading single quote that [CSVField]
// put before a serial or user to defuse a spreadsheet formula is taken off.

var versionLine = regexp.MustCompile(`^#\s*version:\s*(\d+)\s*$`)

// versionRE returns the version a "# version: N" line announces, or "".
func versionRE(lower string) string {
	m := versionLine.FindStringSubmatch(lower)
	if m == nil {
		return ""
	}
	return m[1]
}

func isOATHType(s string) bool {
	s = strings.ToLower(s)
	return s == "hotp" || s == "totp"
}

// isOATHRow reports whether fields look like a version 1 data row.
func isOATHRow(f []string) bool {
	if len(f) < 2 || len(f) > 6 || f[0] == "" || !isHex(strings.ReplaceAll(f[1], " ", "")) {
		return false
	}
	return len(f) < 3 || f[2] == "" || isOATHType(f[2])
}

// isOATHHeader reports whether fields look like a column header line.
func isOATHHeader(f []string) bool {
	h := strings.ToLower(f[0])
	return h == "serial" || h == "user" || h == "username" || strings.Contains(h, "serial")
}

type oathReader struct {
	lineFile
	version string
}

func newOATHReader(name string, r *bufio.Reader) *oathReader {
	return &oathReader{lineFile: newLineFile(name, OATHCSV, r), version: "1"}
}

func (o *oathReader) Next() (fob.Token, error) {
	for {
		line, err := o.nextLine()
		if err != nil {
			return fob.Token{}, err
		}
		if strings.HasPrefix(line, "#") {
			if o.lines.line == 1 {
				if v := versionRE(strings.ToLower(line)); v != "" {
					if v != "1" && v != "2" {
						return o.fail("", fmt.Errorf("%w: OATH CSV version %s (want 1 or 2)", ErrUnsupported, v))
					}
					o.version = v
				}
			}
			continue
		}
		fields, err := splitCSV(line)
		if o.rows == 0 && isOATHHeader(fields) && !isOATHRow(fields) {
			continue
		}
		if err != nil {
			return o.fail("", err)
		}
		if o.version == "2" && blankField(o.raw) {
			// An empty user column leaves the fob in stock; one of
			// spaces is a name that was lost on the way.
			return o.fail("", errors.New("user column holds only white space: leave it empty for a fob in stock, or name the user"))
		}
		o.rows++
		if o.rows > maxTokens {
			return o.fail("", fmt.Errorf("more than %d rows", maxTokens))
		}
		t, err := o.parse(fields)
		if err != nil {
			return o.fail(t.Serial, err)
		}
		if prev := o.serials.add(t.Serial, o.lines.line); prev != 0 {
			return o.fail(t.Serial, fmt.Errorf("%w: also on line %d", ErrDuplicate, prev))
		}
		return t, nil
	}
}

// parse turns one row into a token. On error the token carries at most the
// serial, for the error message.
func (o *oathReader) parse(f []string) (fob.Token, error) {
	var user string
	if o.version == "2" {
		cut := 1
		if len(f) >= 6 && isOATHType(f[5]) || len(f) == 5 && !isHex(f[2]) && isHex(f[4]) {
			cut = 3 // privacyIDEA: user, resolver, realm
		}
		if len(f) <= cut {
			return fob.Token{}, fmt.Errorf("row of %d columns: want user, serial, seed at least", len(f))
		}
		user, f = csvText(f[0]), f[cut:]
	}
	if len(f) < 2 {
		return fob.Token{}, fmt.Errorf("row of %d column: want serial, seed at least", len(f))
	}
	if len(f) > 6 {
		return fob.Token{Serial: f[0]}, fmt.Errorf("row of %d columns: want at most serial, seed, type, digits, counter or step, hash", len(f))
	}
	for len(f) < 6 {
		f = append(f, "")
	}
	t := fob.Token{Serial: csvText(f[0]), User: user}
	if t.Serial == "" {
		return fob.Token{}, errors.New("missing serial")
	}
	switch strings.ToLower(f[2]) {
	case "", "hotp":
		t.Kind = fob.HOTP
	case "totp":
		t.Kind = fob.TOTP
	default:
		return fob.Token{Serial: t.Serial}, fmt.Errorf("%w: token type %q (want hotp or totp)", ErrUnsupported, f[2])
	}
	secret, err := decodeHex("seed", f[1])
	if err != nil {
		return fob.Token{Serial: t.Serial}, err
	}
	t.Secret = secret
	if f[3] != "" {
		if t.Digits, err = strconv.Atoi(f[3]); err != nil {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("digits %q is not a number", f[3])
		}
		if t.Digits < 6 || t.Digits > 8 {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("wrong digit count %d (want 6, 7 or 8)", t.Digits)
		}
	}
	if f[4] != "" {
		if t.Kind == fob.HOTP {
			if t.Counter, err = strconv.ParseUint(f[4], 10, 64); err != nil {
				return fob.Token{Serial: t.Serial}, fmt.Errorf("counter %q is not a number", f[4])
			}
		} else if t.Period, err = strconv.Atoi(f[4]); err != nil || t.Period <= 0 {
			return fob.Token{Serial: t.Serial}, fmt.Errorf("time step %q is not a positive number", f[4])
		}
	}
	if f[5] != "" {
		if t.Algorithm, err = fob.ParseAlgorithm(f[5]); err != nil {
			return fob.Token{Serial: t.Serial}, err
		}
	} else {
		t.Algorithm = guessAlgorithm(len(secret))
	}
	if err := finish(&t); err != nil {
		return fob.Token{Serial: t.Serial}, err
	}
	return t, nil
}

// guessAlgorithm is what privacyIDEA and LinOTP assume when a file does not
// name the hash: the seed is as long as the hash's output (RFC 4226 §4 R6
// recommends 160 bits for SHA-1; RFC 6238 Appendix B uses 32 and 64 bytes).
func guessAlgorithm(n int) fob.Algorithm {
	switch n {
	case 32:
		return fob.SHA256
	case 64:
		return fob.SHA512
	}
	return fob.SHA1
}

// WriteOATHCSV writes toks as OATH CSV, version 2 in privacyIDEA's layout
// (user, resolver, realm, serial, seed, type, digits, counter or step,
// hash), which [NewReader] reads back field for field. OATH CSV has no room
// for T0, drift, device details or Yubico OTP fobs: a Yubico fob is an
// error, the rest is left out. Nothing secret appears in an error.
func WriteOATHCSV(w io.Writer, toks iter.Seq2[fob.Token, error]) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# version: 2\n# user, resolver, realm, serial, seed (hex), type, digits, counter or time step, hash\n")
	n := 0
	for t, err := range toks {
		n++
		if err != nil {
			return err
		}
		t.Normalize()
		if err := t.Validate(); err != nil {
			return fmt.Errorf("fob %d (serial %q): %w", n, t.Serial, err)
		}
		var factor string
		switch t.Kind {
		case fob.HOTP:
			factor = strconv.FormatUint(t.Counter, 10)
		case fob.TOTP:
			factor = strconv.Itoa(t.Period)
		default:
			return fmt.Errorf("fob %d (serial %q): OATH CSV cannot carry a %s fob", n, t.Serial, t.Kind)
		}
		bw.WriteString(CSVField(t.User))
		bw.WriteString(",,,")
		bw.WriteString(CSVField(t.Serial))
		bw.WriteByte(',')
		bw.WriteString(hex.EncodeToString(t.Secret))
		fmt.Fprintf(bw, ",%s,%d,%s,%s\n", t.Kind, t.Digits, factor, strings.ToLower(string(t.Algorithm)))
	}
	return bw.Flush()
}

// CSVField returns s as one field of a CSV line, for every CSV file keydesk
// writes (OATH CSV exports, the CLI's reports): quoted (RFC 4180 §2) when a
// reader would otherwise split it (comma, quote, line break), trim it
// (white space at either end) or take its line for a comment (a leading
// "#"), and defused when a spreadsheet would run it as a formula (OWASP,
// "CSV Injection": a leading =, +, -, @, tab or carriage return gets a
// single quote in front, and the field is quoted). A plain number such as
// -3 or +1.5 is left alone, as no spreadsheet runs it. So that the quote can
// be taken off again without guessing, a field that already starts with
// quotes followed by one of those characters gets one more; keydesk's OATH
// CSV reader takes exactly one off such a field.
func CSVField(s string) string {
	if s == "" {
		return s
	}
	quote := strings.ContainsAny(s, ",\"\r\n") || s[0] == '#' || strings.TrimSpace(s) != s
	if isFormula(s) {
		s, quote = "'"+s, true
	}
	if !quote {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// isFormula reports whether a spreadsheet could take s, or s with its
// leading single quotes taken off, for a formula.
func isFormula(s string) bool {
	if isNumber(s) {
		return false
	}
	switch t := strings.TrimLeft(s, "'"); {
	case t == "":
		return false
	default:
		return strings.IndexByte("=+-@\t\r", t[0]) >= 0
	}
}

// isNumber matches [+-]digits[.digits].
func isNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	return isDecimal(whole) && (!dot || isDecimal(frac))
}

// csvText undoes what CSVField did to a field against formulas: one
// leading quote off a field of quotes followed by a formula character.
func csvText(f string) string {
	if len(f) > 1 && f[0] == '\'' && isFormula(f[1:]) {
		return f[1:]
	}
	return f
}
