package softkey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/internal/testclock"
	"github.com/keydesk/keydesk/u2f"
)

// testClock makes a testclock.Clock a hid.Clock.
type testClock struct{ *testclock.Clock }

func (c testClock) NewTimer(d time.Duration) hid.Timer { return c.Clock.NewTimer(d) }

const poll = 200 * time.Millisecond

// rig is a client and a soft key on one pipe and one fake clock.
type rig struct {
	t       *testing.T
	clk     *testclock.Clock
	key     *Key
	host    hid.Device
	served  chan error
	touches int
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, clk: testclock.At(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), served: make(chan error, 1)}
	if cfg.Clock == nil {
		cfg.Clock = testClock{r.clk}
	}
	var err error
	if r.key, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	// A key that misbehaves on purpose (silent, above all) may leave what
	// the host sent unread; a well-behaved one must read it all.
	host, dev := hid.Pipe()
	if cfg.Misbehave == "" {
		host, dev = hid.PipeT(t)
	}
	r.host = host
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.served <- r.key.Serve(ctx, dev) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.served; err != nil && !errors.Is(err, hid.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

func (r *rig) options() hid.Options {
	return hid.Options{Clock: testClock{r.clk}, PollInterval: poll, OnTouch: func() { r.touches++ }}
}

func (r *rig) open() *hid.Client {
	r.t.Helper()
	c, err := hid.Open(context.Background(), r.host, r.options())
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// touching runs f while moving the clock on at each poll for a touch
// (U2F) or each KEEPALIVE (CTAP2).
func (r *rig) touching(f func()) {
	done := make(chan struct{})
	go func() {
		var step time.Duration
		waiting := func(ps []testclock.Pending) bool {
			for _, p := range ps {
				if p.Duration == poll || p.Duration == keepaliveEvery {
					step = p.Duration
					return true
				}
			}
			return false
		}
		for r.clk.BlockUntil(done, waiting) {
			r.clk.Advance(step)
		}
	}()
	defer close(done)
	f()
}

var (
	app  = sha256.Sum256([]byte("https://keydesk.example"))
	chal = sha256.Sum256([]byte("challenge"))
)

func register(t *testing.T, r *rig, c *hid.Client) *u2f.Registration {
	t.Helper()
	var reg *u2f.Registration
	var err error
	r.touching(func() { reg, err = c.Register(context.Background(), chal, app) })
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func authenticate(t *testing.T, r *rig, c *hid.Client, handle []byte) *u2f.Authentication {
	t.Helper()
	var auth *u2f.Authentication
	var err error
	r.touching(func() { auth, err = c.Authenticate(context.Background(), chal, app, handle) })
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

func verifies(t *testing.T, pub *ecdsa.PublicKey, data, sig []byte) bool {
	t.Helper()
	d := sha256.Sum256(data)
	return ecdsa.VerifyASN1(pub, d[:], sig)
}

func TestRegisterAndAuthenticate(t *testing.T) {
	r := newRig(t, Config{})
	c := r.open()
	if info := c.Info(); !info.U2F() || !info.CTAP2() || !info.Capabilities.Has(hid.CapWink) || info.Version() != "1.0.0" {
		t.Errorf("INIT answer %+v", info)
	}
	if v, err := c.U2FVersion(context.Background()); err != nil || v != "U2F_V2" {
		t.Fatalf("version %q, %v", v, err)
	}

	start := r.clk.Now()
	reg := register(t, r, c)
	if waited := r.clk.Now().Sub(start); waited < time.Second || r.touches != 1 {
		t.Errorf("registered after %v with %d touch prompts; want ≥ 1 s (the touch delay) and 1", waited, r.touches)
	}
	cert, err := x509.ParseCertificate(reg.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if !verifies(t, cert.PublicKey.(*ecdsa.PublicKey), reg.SignedData(app, chal), reg.Signature) {
		t.Error("attestation signature does not verify")
	}

	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), reg.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint32(1); want <= 2; want++ {
		auth := authenticate(t, r, c, reg.KeyHandle)
		if !auth.UserPresent() || auth.Counter != want {
			t.Errorf("presence %v counter %d, want true %d", auth.UserPresent(), auth.Counter, want)
		}
		if !verifies(t, pub, auth.SignedData(app, chal), auth.Signature) {
			t.Error("authentication signature does not verify")
		}
	}

	known, err := c.CheckKeyHandle(context.Background(), app, reg.KeyHandle)
	if err != nil || !known {
		t.Errorf("check-only on our handle: %v, %v", known, err)
	}
	other := sha256.Sum256([]byte("https://elsewhere.example"))
	known, err = c.CheckKeyHandle(context.Background(), other, reg.KeyHandle)
	if err != nil || known {
		t.Errorf("check-only for another application: %v, %v", known, err)
	}
	_, err = c.Authenticate(context.Background(), chal, other, reg.KeyHandle)
	if !errors.Is(err, u2f.SWWrongData) {
		t.Errorf("authenticate for another application: %v", err)
	}
	if err := c.Wink(context.Background()); err != nil || r.key.Winks() != 1 {
		t.Errorf("wink: %v, %d winks", err, r.key.Winks())
	}
	if err := c.Ping(context.Background(), make([]byte, 1000)); err != nil {
		t.Error(err)
	}
}

func TestTouchTimeout(t *testing.T) {
	r := newRig(t, Config{TouchDelay: time.Hour})
	opts := r.options()
	opts.TouchTimeout = 2 * time.Second
	c, err := hid.Open(context.Background(), r.host, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.touching(func() { _, err = c.Register(context.Background(), chal, app) })
	if !errors.Is(err, hid.ErrTouchTimeout) || r.touches != 1 {
		t.Errorf("got %v after %d prompts", err, r.touches)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sk.state")
	r := newRig(t, Config{StatePath: path, TouchDelay: -1})
	c := r.open()
	reg := register(t, r, c)
	authenticate(t, r, c, reg.KeyHandle)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	r2 := newRig(t, Config{StatePath: path, TouchDelay: -1})
	auth := authenticate(t, r2, r2.open(), reg.KeyHandle)
	if auth.Counter != 2 {
		t.Errorf("counter %d after a restart, want 2", auth.Counter)
	}
	if string(r2.key.Certificate()) != string(reg.Certificate) {
		t.Error("attestation certificate changed across a restart")
	}

	os.Chmod(path, 0o644)
	if _, err := New(Config{StatePath: path}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable state: %v", err)
	}
}

func TestMisbehaviorsFailClearly(t *testing.T) {
	tests := []struct {
		mode    Misbehavior
		atOpen  bool // the client fails already at INIT
		want    string
		timeout bool
	}{
		{WrongNonce, true, "wrong nonce", true},
		{Silent, true, "no answer to INIT within 3s", true},
		{Oversize, true, "declared length 7610 exceeds 7609", false},
		{Garbage, true, "to the INIT request", false},
		{BadSeq, false, "sequence 1, want 0", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			r := newRig(t, Config{Misbehave: tt.mode, TouchDelay: -1})
			host := &tap{Device: r.host, reads: make(chan struct{}, 100)}
			done := make(chan struct{})
			defer close(done)
			if tt.timeout {
				go func() {
					if tt.mode == WrongNonce {
						// The client is reading again after the answer:
						// the answer is in, before the deadline.
						<-host.reads
						<-host.reads
					}
					if r.clk.BlockUntil(done, testclock.Has(3*time.Second)) {
						r.clk.Advance(3 * time.Second)
					}
				}()
			}
			c, err := hid.Open(context.Background(), host, r.options())
			if !tt.atOpen {
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Register(context.Background(), chal, app)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if tt.timeout != errors.Is(err, hid.ErrTimeout) {
				t.Errorf("timeout: %v", err)
			}
		})
	}
	if _, err := ParseMisbehavior("sulky"); err == nil {
		t.Error("unknown misbehavior accepted")
	}
}

// tap tells the test each time the client starts reading a report.
type tap struct {
	hid.Device
	reads chan struct{}
}

func (t *tap) Read(ctx context.Context) ([]byte, error) {
	t.reads <- struct{}{}
	return t.Device.Read(ctx)
}

// TestOverStreams runs the key on a stream device, as on /dev/hidg0, with
// a client on a stream too: reports cross a byte stream, not a channel.
func TestOverStreams(t *testing.T) {
	k, err := New(Config{TouchDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- k.Serve(ctx, hid.NewStreamDevice(a)) }()
	c, err := hid.Open(ctx, hid.NewStreamDevice(b), hid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register(ctx, chal, app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, chal, app, reg.KeyHandle); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	c.Close()
}
