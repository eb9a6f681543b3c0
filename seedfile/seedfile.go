// Package seedfile reads and writes the files OTP fob vendors ship seeds in:
// PSKC (RFC 6030), OATH CSV, the YubiKey Personalization Tool's log, and
// otpauth:// key URIs, one per line.
//
// [NewReader] detects the format when not told it, and a UTF-8 byte order
// mark in front is passed over in every format. Every reader streams: it
// holds one record at a time, so memory stays flat whatever the file size,
// and it caps every line, element, attribute list and nesting depth so that
// a hostile file cannot make it allocate without bound. Each record comes
// out as a [fob.Token] that has been Normalize()d and Validate()d; any error
// names the file and the position (line, or the KeyPackage's number and
// serial) and what was wrong.
//
// Every CSV field keydesk writes, here or in the CLI's reports, goes through
// [CSVField].
//
// Because it streams, a reader hands out tokens before it has seen the end of
// the file. An error from [Reader.Next] condemns the whole file: the caller
// must throw away the tokens it already got (keydesk import does all of a
// file in one transaction).
package seedfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"

	"github.com/keydesk/keydesk/fob"
)

// Format names a seed file layout.
type Format string

const (
	PSKC      Format = "pskc"       // RFC 6030 Portable Symmetric Key Container
	OATHCSV   Format = "oath-csv"   // serial, seed-hex, hotp|totp, digits, counter-or-step[, hash]
	YubicoCSV Format = "yubico-csv" // YubiKey Personalization Tool log, traditional or Yubico format
	OTPAuth   Format = "otpauth"    // otpauth:// key URIs, one per line
)

// ParseFormat accepts the names the CLI uses; "" and "auto" mean detect.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "", "auto":
		return "", nil
	case PSKC, OATHCSV, YubicoCSV, OTPAuth:
		return f, nil
	}
	return "", fmt.Errorf("unknown seed file format %q (want auto, pskc, oath-csv, yubico-csv or otpauth)", s)
}

// Errors callers branch on. A [ParseError] wraps them; test with errors.Is.
var (
	// ErrFormat is returned by [Detect] when the bytes match no known format.
	ErrFormat = errors.New("unrecognised seed file format")
	// ErrNeedKey means the file is encrypted and [Keys] holds nothing that
	// could open it.
	ErrNeedKey = errors.New("file is encrypted and no key or password was given")
	// ErrWrongKey means the pre-shared key or password does not open the file.
	ErrWrongKey = errors.New("wrong key or password")
	// ErrBadMAC means a value's MAC did not match although the key was shown
	// to be right: the file was altered after it was made.
	ErrBadMAC = errors.New("MAC mismatch: the file was altered")
	// ErrDuplicate means the same serial appears twice in one file.
	ErrDuplicate = errors.New("duplicate serial")
	// ErrUnsupported marks a well-formed file that uses something keydesk
	// does not implement (a cipher, an algorithm, a token type).
	ErrUnsupported = errors.New("unsupported")
)

// ParseError says where in which file a record was bad.
type ParseError struct {
	File   string
	Line   int    // 1-based line, 0 when unknown
	Record int    // PSKC: 1-based KeyPackage position; 0 outside any KeyPackage
	Serial string // the record's serial, when it was read before the error
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	var where []string
	if e.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", e.Line))
	}
	if e.Serial != "" {
		where = append(where, fmt.Sprintf("serial %q", e.Serial))
	}
	switch {
	case e.Record > 0:
		fmt.Fprintf(&b, "KeyPackage %d", e.Record)
		if len(where) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(where, ", "))
		}
		b.WriteString(": ")
	case len(where) > 0:
		b.WriteString(strings.Join(where, " ("))
		if len(where) > 1 {
			b.WriteString(")")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Keys open encrypted PSKC files. Password is called at most once, and only
// when the file derives its key from a password; the slice it returns is
// wiped after use.
type Keys struct {
	PSK      []byte
	Password func() ([]byte, error)
}

// Skip is a record a reader passed over on purpose, with the reason.
type Skip struct {
	Line   int    `json:"line"`
	Serial string `json:"serial,omitempty"`
	Reason string `json:"reason"`
}

// Reader yields the fobs of one seed file.
type Reader interface {
	// Next returns the next fob, or io.EOF after the last one. On any other
	// error the token is zero and the file must be rejected as a whole;
	// later calls return the same error.
	Next() (fob.Token, error)
	// Skipped lists the records passed over so far (yubico-csv rows that are
	// not OTP fobs), each with its reason.
	Skipped() []Skip
	// Vendor is the manufacturer the file names, or "". A PSKC file names
	// it per KeyPackage, so it is known once Next has returned a fob.
	Vendor() string
	// Format is the file's layout: the one given to [NewReader], or the
	// one it detected.
	Format() Format
}

// utf8BOM is the byte order mark some Windows tools put in front of UTF-8.
var utf8BOM = []byte("\xef\xbb\xbf")

// Limits on what a reader will hold at once.
const (
	maxLine   = 4096      // bytes in one CSV or URI line
	detectLen = 4096      // bytes Detect looks at
	bufSize   = 64 << 10  // read buffer; also the cap on one XML token
	maxTokens = 100 << 20 // records in one file; far above any vendor batch
)

// NewReader returns a Reader for the file called name (used in errors only),
// reading r. If f is "" or "auto" the format is detected from the first
// bytes, as [Detect] does; [Reader.Format] then says which it found. This is
// the one place detection happens: callers need not call Detect first.
func NewReader(name string, r io.Reader, f Format, k Keys) (Reader, error) {
	br := bufio.NewReaderSize(r, bufSize)
	if f == "" || f == "auto" {
		head, err := br.Peek(detectLen)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, &ParseError{File: name, Err: fmt.Errorf("failed to read: %w", err)}
		}
		if f, err = Detect(head); err != nil {
			return nil, &ParseError{File: name, Err: err}
		}
	}
	switch f {
	case PSKC:
		return newPSKCReader(name, br, k)
	case OATHCSV:
		return newOATHReader(name, br), nil
	case YubicoCSV:
		return newYubicoReader(name, br), nil
	case OTPAuth:
		return newOTPAuthReader(name, br), nil
	}
	return nil, fmt.Errorf("seedfile: unknown format %q", f)
}

// Detect decides the format from the first bytes of a file (up to 4 KiB is
// plenty). It looks at content only, never at the file name. A UTF-8 byte
// order mark in front is passed over, in every format. [NewReader] calls it
// when given no format; call it only to name a file's format without
// reading it.
func Detect(head []byte) (Format, error) {
	if bytes.HasPrefix(head, []byte{0xfe, 0xff}) || bytes.HasPrefix(head, []byte{0xff, 0xfe}) {
		return "", fmt.Errorf("%w: the file is UTF-16; save it as UTF-8", ErrFormat)
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '<' {
		return PSKC, nil
	}
	lines := bytes.Split(head, []byte("\n"))
	if len(head) == detectLen && len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last one may be cut short
	}
	for i, raw := range lines {
		line := strings.TrimSpace(string(raw))
		if line == "" {
			continue
		}
		lower := strings.ToLower(line)
		switch {
		case strings.HasPrefix(lower, "otpauth://"):
			return OTPAuth, nil
		case strings.HasPrefix(lower, "logging start,"):
			return YubicoCSV, nil
		case strings.HasPrefix(lower, "#"):
			if i == 0 && versionRE(lower) != "" {
				return OATHCSV, nil
			}
			continue
		}
		fields, _ := splitCSV(line)
		if _, ok := traditionalEvent(fields[0]); ok {
			return YubicoCSV, nil
		}
		if isYubicoFormatRow(fields) {
			return YubicoCSV, nil
		}
		if isOATHRow(fields) {
			return OATHCSV, nil
		}
		if isOATHHeader(fields) {
			continue
		}
		break
	}
	return "", ErrFormat
}

// serialSet finds serials seen twice in one file. It keeps a keyed 64-bit
// hash of each serial, not the serial itself, so that a million fobs cost
// tens of megabytes at most; a false alarm needs a 64-bit collision under a
// random key (odds about n²/2⁶⁵, 3·10⁻⁸ for a million).
type serialSet struct {
	seed maphash.Seed
	seen map[uint64]int
}

func newSerialSet() *serialSet {
	return &serialSet{seed: maphash.MakeSeed(), seen: make(map[uint64]int)}
}

// add records serial at position pos and returns the earlier position of
// the same serial, or 0.
func (s *serialSet) add(serial string, pos int) int {
	h := maphash.String(s.seed, serial)
	if p, ok := s.seen[h]; ok {
		return p
	}
	s.seen[h] = pos
	return 0
}

// finish normalizes and validates t, the last step of every reader.
func finish(t *fob.Token) error {
	t.Normalize()
	return t.Validate()
}
