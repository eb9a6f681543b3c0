package softkey

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/keydesk/keydesk/hid"
)

// Misbehavior is a way for the soft key to break CTAPHID on purpose. Each
// must make a client fail with a clear error, quickly or at its timeout,
// and never hang or crash it.
type Misbehavior string

const (
	// Behave is the well-behaved key.
	Behave Misbehavior = ""
	// WrongNonce answers INIT with a nonce that is not the host's, so the
	// host, which must ignore such answers (§11.2.9.1.3), never gets a
	// channel and times out.
	WrongNonce Misbehavior = "wrong-nonce"
	// BadSeq numbers continuation packets from 1 instead of 0: every
	// answer longer than one report (REGISTER's, AUTHENTICATE's) breaks.
	BadSeq Misbehavior = "bad-seq"
	// Oversize declares every answer 7610 bytes long, one more than
	// CTAPHID allows.
	Oversize Misbehavior = "oversize"
	// Garbage answers every request with one report of random bytes on
	// the request's channel, under a command the host did not send.
	Garbage Misbehavior = "garbage"
	// Silent never answers.
	Silent Misbehavior = "silent"
)

var misbehaviors = []Misbehavior{WrongNonce, BadSeq, Oversize, Garbage, Silent}

// Misbehaviors lists the names ParseMisbehavior accepts, for help texts.
func Misbehaviors() []string {
	var s []string
	for _, m := range misbehaviors {
		s = append(s, string(m))
	}
	return s
}

// ParseMisbehavior checks a name from the command line; "" is Behave.
func ParseMisbehavior(s string) (Misbehavior, error) {
	if s == "" {
		return Behave, nil
	}
	for _, m := range misbehaviors {
		if string(m) == s {
			return m, nil
		}
	}
	return Behave, fmt.Errorf("softkey: unknown misbehavior %q (want one of %s)", s, strings.Join(Misbehaviors(), ", "))
}

// mangle cuts an answer into reports and breaks them as configured.
func (k *Key) mangle(m hid.Message) ([][]byte, error) {
	switch k.cfg.Misbehave {
	case Silent:
		return nil, nil
	case Garbage:
		return k.garbage(m)
	case WrongNonce:
		if m.Command == hid.CmdInit && len(m.Data) >= 8 {
			d := append([]byte(nil), m.Data...)
			d[0] ^= 0xff
			m.Data = d
		}
	}
	reports, err := m.Reports()
	if err != nil {
		return nil, err
	}
	switch k.cfg.Misbehave {
	case BadSeq:
		for _, r := range reports[1:] {
			r[4]++
		}
	case Oversize:
		binary.BigEndian.PutUint16(reports[0][5:], hid.MaxMessage+1)
	}
	return reports, nil
}

// garbage is one random report on the channel of m whose command is an
// initialization command other than m's, KEEPALIVE and ERROR.
func (k *Key) garbage(m hid.Message) ([][]byte, error) {
	r := make([]byte, hid.ReportSize)
	if _, err := io.ReadFull(k.cfg.Rand, r); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(r, m.Channel)
	cmd := hid.Command(r[4] & 0x7f)
	for cmd == m.Command || cmd == hid.CmdKeepalive || cmd == hid.CmdError {
		cmd = (cmd + 1) & 0x7f
	}
	r[4] = byte(cmd) | 0x80
	return [][]byte{r}, nil
}
