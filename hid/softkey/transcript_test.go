package softkey

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/keydesk/keydesk/hid"
)

var update = flag.Bool("update", false, "rewrite the transcripts in testdata/u2f")

// recorder logs every report a host sends and receives, in the transcript
// format of testdata/u2f: "> " to the key, "< " from it, hex.
type recorder struct {
	hid.Device
	mu    sync.Mutex
	lines []string
}

func (r *recorder) log(dir string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, dir+hex.EncodeToString(b))
}

func (r *recorder) Write(b []byte) error {
	r.log("> ", b)
	return r.Device.Write(b)
}

func (r *recorder) Read(ctx context.Context) ([]byte, error) {
	b, err := r.Device.Read(ctx)
	if err == nil {
		r.log("< ", b)
	}
	return b, err
}

// TestRecordTranscript runs a help-desk session against the soft key
// (version, register with a touch, authenticate, check-only, wink) and,
// with -update, saves its reports as testdata/u2f/softkey-session.transcript
// for hid's replay test and fuzz seeds.
func TestRecordTranscript(t *testing.T) {
	r := newRig(t, Config{TouchDelay: 3 * poll})
	rec := &recorder{Device: r.host}
	c, err := hid.Open(context.Background(), rec, r.options())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.U2FVersion(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := register(t, r, c)
	authenticate(t, r, c, reg.KeyHandle)
	if ok, err := c.CheckKeyHandle(context.Background(), app, reg.KeyHandle); !ok || err != nil {
		t.Fatalf("check-only: %v, %v", ok, err)
	}
	if err := c.Wink(context.Background()); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var polls int
	for _, l := range rec.lines {
		// A U2F answer "user presence required" ends in 6985.
		if strings.HasPrefix(l, "< ") && strings.Contains(l, "00026985") {
			polls++
		}
	}
	if polls < 3 || len(rec.lines) < 20 {
		t.Fatalf("%d reports, %d presence-required answers: not the session expected", len(rec.lines), polls)
	}
	if !*update {
		return
	}
	head := fmt.Sprintf("# keydesk softkey session: INIT, VERSION, REGISTER (touch after %v, polled), AUTHENTICATE (enforce presence),\n"+
		"# AUTHENTICATE (check-only), WINK. Recorded by go test ./hid/softkey -run TestRecordTranscript -update.\n"+
		"# One report per line: \"> \" host to key, \"< \" key to host, 64 bytes in hex.\n", 3*poll)
	out := head + strings.Join(rec.lines, "\n") + "\n"
	if err := os.WriteFile("../../testdata/u2f/softkey-session.transcript", []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
