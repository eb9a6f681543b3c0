package directory

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/slapd"
)

const (
	people    = "ou=people," + slapd.Suffix
	vpnUsers  = "cn=vpn-users,ou=groups," + slapd.Suffix
	staff     = "cn=staff,ou=groups," + slapd.Suffix
	adVPN     = "CN=VPN Users,OU=Groups,DC=example,DC=edu"
	adStaff   = "CN=Staff,OU=Groups,DC=example,DC=edu"
	adPeople  = "OU=People,DC=example,DC=edu"
	servicePW = "service-secret\n" // as an editor leaves it
)

// startDirectory starts a slapd holding testdata/openldap.ldif (or
// ad.ldif with opts.AD) and returns it with a configuration for it.
func startDirectory(t testing.TB, opts slapd.Options) (*slapd.Server, Config) {
	t.Helper()
	file, kind, bindDN, scope := "testdata/openldap.ldif", OpenLDAP, "cn=keydesk,ou=services,"+slapd.Suffix, vpnUsers
	if opts.AD {
		file, kind, bindDN, scope = "testdata/ad.ldif", ActiveDirectory, "CN=keydesk,"+adPeople, adVPN
	}
	ldif, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	opts.LDIF = string(ldif)
	srv := slapd.Start(t, opts)
	pw := filepath.Join(t.TempDir(), "bind.pw")
	if err := os.WriteFile(pw, []byte(servicePW), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Kind:             kind,
		URL:              srv.URL,
		BindDN:           bindDN,
		BindPasswordFile: pw,
		BaseDN:           slapd.Suffix,
		ScopeGroup:       scope,
	}
	if opts.AD {
		// slapd knows no LDAP_MATCHING_RULE_IN_CHAIN.
		cfg.Nesting = Walk
	}
	cfg.Default()
	return srv, cfg
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within fails the test if fn does not return in a long while: a call
// that should give up after its timeout must not hang.
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not return within 30s")
	}
}

// proxy forwards TCP connections to a directory and counts them; frozen,
// it stops forwarding, as a directory that hangs.
type proxy struct {
	addr     string
	accepted atomic.Int64
	frozen   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String()}
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go p.pipe(out, in)
			go p.pipe(in, out)
		}
	}()
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if p.frozen.Load() {
			continue // swallowed: the directory seems to think forever
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// silent accepts connections and never answers.
func silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	return l.Addr().String()
}

// closedPort is a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func ctx(t testing.TB) context.Context { return t.Context() }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
