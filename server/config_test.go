package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP != DefaultHTTP || c.RADIUS != "" || c.UserRate != 0.5 || c.UserBurst != 5 || c.ClientRate != 1000 ||
		time.Duration(c.CacheTTL) != 2*time.Second || c.RADIUSWorkers != 256 || c.Now == nil || c.Log == nil {
		t.Errorf("defaults %+v", c)
	}
	// What was set stays.
	c = Config{HTTP: "0.0.0.0:9000", UserRate: -1, ClientBurst: 7}
	c.Default()
	if c.HTTP != "0.0.0.0:9000" || c.UserRate != -1 || c.ClientBurst != 7 {
		t.Errorf("set values changed: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{HTTP: "localhost"}, `http address "localhost" is not IP:port`},
		{Config{RADIUS: ":1812"}, `radius address ":1812" is not IP:port`},
		{Config{TLSKey: "k.pem"}, "tls_cert and tls_key go together"},
		{Config{CacheTTL: Duration(time.Hour)}, "cache_ttl of 1h0m0s is over a minute"},
		{Config{RADIUSWorkers: 20000}, "radius_workers must be 1 to 10000"},
		{Config{ReadTimeout: Duration(-time.Second)}, "read_timeout must be positive"},
	} {
		c.cfg.Default()
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want %q", err, c.want)
		}
	}
	// Every problem is reported at once.
	c := Config{HTTP: "x", RADIUS: "y"}
	c.Default()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("Validate() = %v, want both addresses named", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	c, err := LoadConfig(write("ok.json", `{"http":"127.0.0.1:8701","radius":"127.0.0.1:1812","cache_ttl":"500ms","user_rate":2}`))
	if err != nil || c.HTTP != "127.0.0.1:8701" || time.Duration(c.CacheTTL) != 500*time.Millisecond || c.UserRate != 2 {
		t.Errorf("LoadConfig = %+v, %v", c, err)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"http": 8700}`, `field "http" at byte 13: want string`},
		{`{"cache_ttl": "soon"}`, `invalid duration "soon"`},
		{`{"cache_ttl": 5}`, `a duration is a string`},
		{`{"tls": "x"}`, `unknown field "tls"`},
		{`{"http": "a"} {}`, `more data after the JSON value`},
		{`{"http": `, `ends early`},
		{strings.Repeat(" ", maxConfigFile+1), `longer than 65536 bytes`},
	} {
		p := write("bad.json", bad.body)
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadConfig(%.30q) = %v, want %q and the file name", bad.body, err, bad.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(1, 2)
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.allow("a", now); ok != want {
			t.Errorf("take %d: %v", i, ok)
		}
	}
	if ok, wait := l.allow("a", now); ok || wait <= 0 || wait > time.Second {
		t.Errorf("empty bucket: %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Error("a second later there is no token")
	}
	off := newLimiter(-1, 0)
	for range 1000 {
		if ok, _ := off.allow("a", now); !ok {
			t.Fatal("a limiter that is off refused")
		}
	}
}

// A flood of keys cannot grow the limiter without bound.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, 1)
	now := time.Unix(1000, 0)
	for i := range 3 * maxLimited {
		l.allow(string(rune(i))+"x", now)
	}
	l.mu.Lock()
	n := len(l.keys)
	l.mu.Unlock()
	if n > maxLimited {
		t.Errorf("%d keys remembered, bound is %d", n, maxLimited)
	}
}

// A user being guessed at keeps an empty bucket however many made-up
// names come after: a flood cannot hand the attacker a fresh one. Once
// the table is full of spent buckets, new names share one overflow
// bucket; a bucket that refilled is forgotten to make room.
func TestLimiterFloodKeepsASpentBucket(t *testing.T) {
	l := newLimiter(0.1, 3) // a token every 10 s
	now := time.Unix(1000, 0)
	for range 3 {
		if ok, _ := l.allow("alice", now); !ok {
			t.Fatal("alice's first three attempts refused")
		}
	}
	if ok, _ := l.allow("alice", now); ok {
		t.Fatal("alice's fourth attempt at once allowed")
	}
	for i := range 2 * maxLimited {
		l.allow(fmt.Sprintf("made-up-%d", i), now.Add(time.Duration(i)*time.Microsecond))
	}
	if ok, _ := l.allow("alice", now.Add(time.Second)); ok {
		t.Fatal("after a flood of 100,000 names, alice has a fresh bucket")
	}
	// Much later every bucket has refilled: the flood's names are forgotten
	// and new names get buckets of their own again.
	later := now.Add(time.Hour)
	if ok, _ := l.allow("bob", later); !ok {
		t.Fatal("a new name refused an hour later")
	}
	l.mu.Lock()
	n := len(l.keys)
	l.mu.Unlock()
	if n > 2 {
		t.Errorf("%d keys remembered after the sweep, want alice and bob at most", n)
	}
}

func TestDupCacheBounded(t *testing.T) {
	c := newDupCache(time.Hour, func() time.Time { return time.Unix(0, 0) })
	for i := range 3 * maxDuplicates {
		c.begin(string(rune(i)))
	}
	if n := len(c.cur) + len(c.old); n > 2*maxDuplicates {
		t.Errorf("%d answers remembered, bound is %d", n, 2*maxDuplicates)
	}
}
