package seedfile

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/keydesk/keydesk/fob"
)

// The YubiKey Personalization Tool logs each key it programs, in one of two
// CSV layouts (see its YubiKeyLogger; privacyIDEA's importer reads both):
//
// Traditional, after an optional "LOGGING START,<time>" line, 18 columns:
//
//	event, time, slot, public id (modhex), private id (hex), secret (hex),
//	current access code, new access code, OATH fixed modhex 1, 2, all,
//	HOTP digits, OATH moving factor, strong pw 1, 2, send ref,
//	challenge button, HMAC lt 64
//
// where event is "Yubico OTP", "OATH-HOTP", "Static Password[: ...]",
// "Challenge-Response: Yubico OTP|HMAC-SHA1", "Configuration Update|Swap".
// The time is in the desktop's locale and may itself hold commas, so the
// row is read from both ends.
//
// Yubico format, one row per key, no event column:
//
//	serial, public id, private id | moving factor | "0" | "", secret, access code, time,
//
// The third column tells the mode: 12 hex digits is a Yubico OTP private
// id; a number with a public id is OATH-HOTP's moving factor; empty is a
// static password or Yubico challenge-response; "0" without a public id is
// an HMAC-SHA1 challenge-response key, or an OATH-HOTP key programmed
// without a token id: the layout cannot tell the two apart, so such a row
// is skipped with that reason rather than guessed into a fob.

const traditionalCols = 18

// traditionalEvent maps a traditional log's first column to the fob kind
// it makes, with ok false when the text is no event at all.
func traditionalEvent(s string) (fob.Kind, bool) {
	switch l := strings.ToLower(strings.TrimSpace(s)); {
	case l == "yubico otp":
		return fob.Yubico, true
	case l == "oath-hotp":
		return fob.HOTP, true
	case strings.HasPrefix(l, "static password"), strings.HasPrefix(l, "challenge-response"),
		strings.HasPrefix(l, "configuration update"), strings.HasPrefix(l, "configuration swap"),
		l == "unknown programming mode":
		return "", true
	}
	return "", false
}

func isYubicoFormatRow(f []string) bool {
	if len(f) != 6 && !(len(f) == 7 && f[6] == "") {
		return false
	}
	return (f[0] == "" || isDecimal(f[0])) &&
		(f[2] == "" || isDecimal(f[2]) || isHex(f[2])) &&
		isHex(f[3]) && (f[4] == "" || isHex(f[4])) &&
		(f[5] == "" || looksTimestamp(f[5]))
}

// looksTimestamp matches the tool's fixed time format, yyyy-MM-ddThh:mm:ss.
func looksTimestamp(s string) bool {
	return len(s) == 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':'
}

// maxSkips is how many skipped rows a reader lists one by one; past it
// they are only counted, so a file of a million static keys stays small.
const maxSkips = 1000

type yubicoReader struct {
	lineFile
	skips []Skip
	more  int // skips past maxSkips
}

func newYubicoReader(name string, r *bufio.Reader) *yubicoReader {
	return &yubicoReader{lineFile: newLineFile(name, YubicoCSV, r)}
}

func (y *yubicoReader) Vendor() string { return "Yubico" }

func (y *yubicoReader) Skipped() []Skip {
	if y.more == 0 {
		return y.skips
	}
	return append(y.skips[:len(y.skips):len(y.skips)], Skip{Reason: fmt.Sprintf("and %d more rows skipped", y.more)})
}

func (y *yubicoReader) skip(serial, reason string) {
	if len(y.skips) >= maxSkips {
		y.more++
		return
	}
	y.skips = append(y.skips, Skip{Line: y.lines.line, Serial: serial, Reason: reason})
}

func (y *yubicoReader) Next() (fob.Token, error) {
	for {
		line, err := y.nextLine()
		if err != nil {
			return fob.Token{}, err
		}
		if line[0] == '#' || strings.HasPrefix(strings.ToLower(line), "logging start,") {
			continue
		}
		if y.rows++; y.rows > maxTokens {
			return y.fail("", fmt.Errorf("more than %d rows", maxTokens))
		}
		f, err := splitCSV(line)
		if err != nil {
			return y.fail("", err)
		}
		var t fob.Token
		var reason string
		if _, ok := traditionalEvent(f[0]); ok {
			t, reason, err = parseTraditional(f)
		} else if isYubicoFormatRow(f) {
			t, reason, err = parseYubicoFormat(f)
		} else {
			err = fmt.Errorf("neither a traditional log row (event %q unknown) nor a Yubico format row", truncate(f[0], 40))
		}
		if err != nil {
			return y.fail(t.Serial, err)
		}
		if reason != "" {
			y.skip(t.Serial, reason)
			continue
		}
		if err := finish(&t); err != nil {
			return y.fail(t.Serial, err)
		}
		if prev := y.serials.add(t.Serial, y.lines.line); prev != 0 {
			return y.fail(t.Serial, fmt.Errorf("%w: also on line %d", ErrDuplicate, prev))
		}
		return t, nil
	}
}

// parseTraditional reads an 18-column row. A non-empty reason means the row
// is skipped; the token then holds only what names it.
func parseTraditional(f []string) (t fob.Token, reason string, err error) {
	event := strings.TrimSpace(f[0])
	if len(f) < traditionalCols {
		return t, "", fmt.Errorf("%q row of %d columns (want %d)", event, len(f), traditionalCols)
	}
	c := f[len(f)-16:] // from the slot on; the time before it may hold commas
	slot, pub, priv, secret, digits, factor := c[0], c[1], c[2], c[3], c[9], c[10]
	t.Manufacturer = "Yubico"
	t.Serial = pub
	kind, _ := traditionalEvent(event)
	switch kind {
	case "":
		return t, fmt.Sprintf("%s (slot %s): not an OTP fob", event, slot), nil
	case fob.Yubico:
		if pub == "" {
			return t, fmt.Sprintf("Yubico OTP (slot %s) without a public id: no serial to file it under", slot), nil
		}
		t, err = yubicoOTP(t, pub, priv, secret)
		return t, "", err
	}
	if pub == "" {
		return t, fmt.Sprintf("OATH-HOTP (slot %s) without a token id: no serial to file it under", slot), nil
	}
	t.Kind = fob.HOTP
	if t.Secret, err = decodeHex("secret", secret); err != nil {
		return fob.Token{Serial: t.Serial}, "", err
	}
	if t.Digits, err = strconv.Atoi(digits); err != nil {
		return fob.Token{Serial: t.Serial}, "", fmt.Errorf("HOTP digits %q is not a number", digits)
	}
	if t.Counter, err = strconv.ParseUint(factor, 10, 64); err != nil {
		return fob.Token{Serial: t.Serial}, "", fmt.Errorf("moving factor %q is not a number", factor)
	}
	return t, "", nil
}

// parseYubicoFormat reads a row of the Yubico format (see above).
func parseYubicoFormat(f []string) (t fob.Token, reason string, err error) {
	serial, pub, third, secret := f[0], f[1], f[2], f[3]
	t.Manufacturer = "Yubico"
	t.Serial = serial
	if serial == "" || strings.Trim(serial, "0") == "" {
		t.Serial = pub
	}
	switch {
	case third == "":
		return t, "static password or Yubico challenge-response: not an OTP fob", nil
	case len(third) == 2*fob.YubicoPrivLen && isHex(third):
		if t.Serial == "" {
			return t, "Yubico OTP without serial or public id: no serial to file it under", nil
		}
		t, err = yubicoOTP(t, pub, third, secret)
		return t, "", err
	case pub == "":
		return t, "HMAC-SHA1 challenge-response, or OATH-HOTP without a token id (this layout cannot tell them apart): not imported", nil
	}
	t.Kind = fob.HOTP
	if t.Counter, err = strconv.ParseUint(third, 10, 64); err != nil {
		return fob.Token{Serial: t.Serial}, "", fmt.Errorf("moving factor %q is not a number", third)
	}
	if t.Secret, err = decodeHex("secret", secret); err != nil {
		return fob.Token{Serial: t.Serial}, "", err
	}
	// The layout does not record the digit count; the tool's default is 6.
	return t, "", nil
}

func yubicoOTP(t fob.Token, pub, priv, secret string) (fob.Token, error) {
	t.Kind = fob.Yubico
	pub = strings.ToLower(strings.ReplaceAll(pub, " ", ""))
	if _, err := fob.DecodeModhex(pub); err != nil {
		return fob.Token{Serial: t.Serial}, fmt.Errorf("public id: %v", err)
	}
	t.PublicID = pub
	var err error
	if t.PrivateID, err = decodeHex("private id", priv); err != nil {
		return fob.Token{Serial: t.Serial}, err
	}
	if t.Secret, err = decodeHex("AES key", secret); err != nil {
		return fob.Token{Serial: t.Serial}, err
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
