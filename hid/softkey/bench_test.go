package softkey

import (
	"context"
	"testing"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// benchClient is a client and a key that touches at once, over a pipe.
func benchClient(b *testing.B) *hid.Client {
	k, err := New(Config{TouchDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	host, dev := hid.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go k.Serve(ctx, dev)
	c, err := hid.Open(ctx, host, hid.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkRegister is one REGISTER through CTAPHID: framing both ways,
// key generation, key handle sealing and the attestation signature.
func BenchmarkRegister(b *testing.B) {
	c := benchClient(b)
	for b.Loop() {
		if _, err := c.Register(context.Background(), chal, app); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is one AUTHENTICATE with user presence.
func BenchmarkAuthenticate(b *testing.B) {
	c := benchClient(b)
	reg, err := c.Register(context.Background(), chal, app)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Authenticate(context.Background(), chal, app, reg.KeyHandle); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingMax echoes the longest CTAPHID message, 129 reports each way.
func BenchmarkPingMax(b *testing.B) {
	c := benchClient(b)
	data := make([]byte, hid.MaxMessage)
	b.SetBytes(2 * hid.MaxMessage)
	for b.Loop() {
		if err := c.Ping(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMakeCredential is one CTAP2 makeCredential through CTAPHID:
// CBOR both ways, a new P-256 key sealed into its credential ID, and the
// packed attestation signature.
func BenchmarkMakeCredential(b *testing.B) {
	c := benchClient(b)
	req := mcRequest("alice", false)
	req.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}}
	for b.Loop() {
		if _, err := c.MakeCredential(context.Background(), req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAssertion is one CTAP2 getAssertion with an allowList of
// one: the credential ID opened, a counter saved (in memory), a signature.
func BenchmarkGetAssertion(b *testing.B) {
	c := benchClient(b)
	req := mcRequest("alice", false)
	req.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.ES256}}
	att, err := c.MakeCredential(context.Background(), req, nil)
	if err != nil {
		b.Fatal(err)
	}
	ga := gaRequest(att.AuthData.Credential.ID)
	for b.Loop() {
		if _, err := c.GetAssertion(context.Background(), ga, nil); err != nil {
			b.Fatal(err)
		}
	}
}
