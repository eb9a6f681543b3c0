package browsertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewServer serves h on 127.0.0.1 over plain HTTP until the test ends. Its
// URL names the host localhost (http://localhost:PORT), which browsers
// count as a secure context and WebAuthn accepts as an RP ID; an IP
// address is neither.
func NewServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	srv.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return srv
}

// Domain stands for the institution's domain. The browsers of this
// package resolve it and every name under it to 127.0.0.1, and the
// certificate of [NewTLSServer] names them, so a test can serve the
// shape production has: RP ID example.edu, the portal at
// https://keydesk.example.edu:PORT (see [HostURL]).
const Domain = "example.edu"

// HostURL is srv's URL with host in place of localhost, such as
// "keydesk."+[Domain].
func HostURL(srv *httptest.Server, host string) string {
	return strings.Replace(srv.URL, "://localhost:", "://"+host+":", 1)
}

// NewTLSServer serves h on 127.0.0.1 over HTTPS until the test ends, at
// https://localhost:PORT. Its certificate, for localhost and [Domain], is
// made for this test binary; every browser this package starts accepts
// it, and no other self-signed one (--ignore-certificate-errors-spki-list).
// Pages that need an https origin, such as those claiming a U2F AppID,
// are served so.
func NewTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	cert, _, err := localhostCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	srv.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return srv
}

// localhostCert is the test binary's certificate for localhost, and the
// base64 SHA-256 of its public key, the form Chromium's SPKI list takes.
func localhostCert() (tls.Certificate, string, error) {
	c := certOnce()
	return c.cert, c.pin, c.err
}

type pinnedCert struct {
	cert tls.Certificate
	pin  string
	err  error
}

var certOnce = sync.OnceValue(func() pinnedCert {
	c, pin, err := makeCert()
	return pinnedCert{c, pin, err}
})

func makeCert() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost", Domain, "*." + Domain},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(spki)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, base64.StdEncoding.EncodeToString(sum[:]), nil
}
