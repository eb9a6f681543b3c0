package hid

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/u2f"
)

// A transcript is a recorded conversation between a host and a key, one
// report per line: "> " host to key, "< " key to host, 64 bytes in hex.
// The soft key's tests record them (go test ./hid/softkey -update).
type transcript struct {
	Name      string
	Reports   []tReport
	Exchanges []exchange
}

type tReport struct {
	ToKey bool
	Data  []byte
}

// exchange is one request and its answer, reassembled.
type exchange struct {
	Command  Command
	Kind     string // for MSG: "register", "authenticate", "version"
	Request  []byte
	Response []byte
	Channel  uint32
}

func loadTranscripts(t testing.TB) []transcript {
	t.Helper()
	files, err := filepath.Glob("../testdata/u2f/*.transcript")
	if err != nil {
		t.Fatal(err)
	}
	var out []transcript
	for _, file := range files {
		out = append(out, loadTranscript(t, file))
	}
	return out
}

func loadTranscript(t testing.TB, file string) transcript {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := transcript{Name: filepath.Base(file)}
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := hex.DecodeString(line[2:])
		if err != nil || len(b) != ReportSize || (line[:2] != "> " && line[:2] != "< ") {
			t.Fatalf("%s:%d: want \"> \" or \"< \" and 64 bytes in hex", file, n)
		}
		tr.Reports = append(tr.Reports, tReport{ToKey: line[0] == '>', Data: b})
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	tr.Exchanges = pairExchanges(t, tr)
	return tr
}

// pairExchanges reassembles the reports of each direction and pairs every
// request with the next answer that is not a KEEPALIVE.
func pairExchanges(t testing.TB, tr transcript) []exchange {
	var (
		out      []exchange
		asm      [2]*Assembly
		inFlight *exchange
	)
	for i, r := range tr.Reports {
		dir := 0
		if !r.ToKey {
			dir = 1
		}
		p, _ := ParsePacket(r.Data)
		var err error
		if asm[dir] == nil {
			asm[dir], err = NewAssembly(p)
		} else {
			err = asm[dir].Add(p)
		}
		if err != nil {
			t.Fatalf("%s: report %d: %v", tr.Name, i+1, err)
		}
		if !asm[dir].Complete() {
			continue
		}
		m := asm[dir].Message()
		asm[dir] = nil
		switch {
		case r.ToKey && m.Command != CmdCancel:
			ex := exchange{Command: m.Command, Request: m.Data, Channel: m.Channel}
			if m.Command == CmdMsg && len(m.Data) > 1 {
				ex.Kind = map[byte]string{u2f.InsRegister: "register", u2f.InsAuthenticate: "authenticate", u2f.InsVersion: "version"}[m.Data[1]]
			}
			inFlight = &ex
		case !r.ToKey && m.Command != CmdKeepalive && inFlight != nil:
			inFlight.Response = m.Data
			out = append(out, *inFlight)
			inFlight = nil
		}
	}
	return out
}

// TestTranscriptsReplay plays each recorded key's answers to a Client that
// makes the same requests; the client must accept every one.
func TestTranscriptsReplay(t *testing.T) {
	trs := loadTranscripts(t)
	if len(trs) == 0 {
		t.Skip("no transcripts in testdata/u2f")
	}
	for _, tr := range trs {
		t.Run(tr.Name, func(t *testing.T) {
			host, key := PipeT(t)
			defer host.Close()
			exs := tr.Exchanges
			mismatch := make(chan string, 1)
			go func() {
				// The recorded key: check each request against the
				// recording, answer with the recorded reports.
				for i, r := range tr.Reports {
					if r.ToKey {
						got, err := key.Read(context.Background())
						if err != nil {
							return
						}
						if !bytes.Equal(got, r.Data) {
							mismatch <- fmt.Sprintf("report %d: host sent %x, recorded %x", i+1, got, r.Data)
							return
						}
						continue
					}
					if err := key.Write(r.Data); err != nil {
						return
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Open(ctx, host, Options{Rand: nonceFrom(exs[0].Request)})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, ex := range exs[1:] {
				resp, err := c.Transact(ctx, ex.Command, ex.Request)
				select {
				case m := <-mismatch:
					t.Fatal(m)
				default:
				}
				if err != nil {
					t.Fatalf("%v: %v", ex.Command, err)
				}
				if !bytes.Equal(resp, ex.Response) {
					t.Fatalf("%v: client returned %x, key answered %x", ex.Command, resp, ex.Response)
				}
				kinds[ex.Kind]++
				switch ex.Kind {
				case "register":
					if _, err := u2f.ParseRegistration(resp[:len(resp)-2]); err != nil && resp[len(resp)-2] == 0x90 {
						t.Error(err)
					}
				case "authenticate":
					if _, err := u2f.ParseAuthentication(resp[:len(resp)-2]); err != nil && resp[len(resp)-2] == 0x90 {
						t.Error(err)
					}
				}
			}
			if kinds["register"] == 0 || kinds["authenticate"] == 0 {
				t.Errorf("transcript has %v: want registrations and authentications", kinds)
			}
		})
	}
}

// nonceFrom makes a Rand that yields the recorded INIT nonce.
func nonceFrom(b []byte) *strings.Reader { return strings.NewReader(string(b)) }
