package softkey

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keydesk/keydesk/hid"
	"github.com/keydesk/keydesk/u2f"
)

// cborExchange is one CTAP2 request and its answer, taken from the
// reports a recorder saw.
type cborExchange struct {
	request, answer []byte // command byte and CBOR; status byte and CBOR
}

func cborExchanges(t *testing.T, rec *recorder) []cborExchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []cborExchange
	var asm [2]*hid.Assembly
	var pending []byte
	for _, l := range rec.lines {
		dir := 0
		if l[0] == '<' {
			dir = 1
		}
		b := unhexLine(t, l[2:])
		p, _ := hid.ParsePacket(b)
		var err error
		if asm[dir] == nil {
			asm[dir], err = hid.NewAssembly(p)
		} else {
			err = asm[dir].Add(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !asm[dir].Complete() {
			continue
		}
		m := asm[dir].Message()
		asm[dir] = nil
		switch {
		case m.Command != hid.CmdCBOR:
		case dir == 0:
			pending = m.Data
		case pending != nil:
			out = append(out, cborExchange{pending, m.Data})
			pending = nil
		}
	}
	return out
}

// TestRecordFuzzSeeds runs a CTAP2 session against the soft key and, with
// -update, saves its requests and answers as seed corpora for package
// u2f's fuzz targets (u2f/testdata/fuzz/<Target>/softkey-N).
func TestRecordFuzzSeeds(t *testing.T) {
	r := newRig(t, Config{})
	rec := &recorder{Device: r.host}
	c, err := hid.Open(context.Background(), rec, r.options())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must[*u2f.AuthenticatorInfo](t)(c.GetInfo(ctx))
	must[any](t)(nil, c.SetPIN(ctx, "1234"))
	tok := must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermMakeCredential, rpID))
	req := mcRequest("alice", true)
	req.Extensions = &u2f.MakeCredentialExtensions{CredProtect: u2f.CredProtectUVOptionalWithList}
	must[*u2f.Attestation](t)(makeCred(t, r, c, req, tok))
	ed := mcRequest("bob", false)
	ed.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: u2f.EdDSA}}
	att := must[*u2f.Attestation](t)(makeCred(t, r, c, ed, nil))
	must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(att.AuthData.Credential.ID), nil))
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermMakeCredential, rpID))
	must[*u2f.Attestation](t)(makeCred(t, r, c, mcRequest("carol", true), tok))
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermGetAssertion, rpID))
	must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(), tok))
	must[*u2f.Assertion](t)(c.GetNextAssertion(ctx))
	retries(t, c)
	tok = must[*u2f.PINToken](t)(c.PINTokenWithPermissions(ctx, "1234", u2f.PermCredentialManagement|u2f.PermAuthenticatorConfig, ""))
	if _, _, err := c.CredsMetadata(ctx, tok); err != nil {
		t.Fatal(err)
	}
	must[[]u2f.ResidentRP](t)(c.ResidentRPs(ctx, tok))
	must[[]u2f.ResidentCredential](t)(c.ResidentCredentials(ctx, tok, rpIDHash[:]))
	must[any](t)(nil, c.SetMinPINLength(ctx, tok, 6, []string{rpID}, false))

	seeds := map[string][][]byte{}
	add := func(target string, b []byte) { seeds[target] = append(seeds[target], b) }
	for _, ex := range cborExchanges(t, rec) {
		if ex.answer[0] != 0 {
			continue
		}
		body, params := ex.answer[1:], ex.request[1:]
		switch ex.request[0] {
		case u2f.CmdMakeCredential:
			add("FuzzParseMakeCredentialRequest", params)
			add("FuzzParseMakeCredentialResponse", body)
			a := must[*u2f.Attestation](t)(u2f.ParseMakeCredentialResponse(body))
			add("FuzzParseAuthenticatorData", a.AuthData.Raw)
			add("FuzzParseCOSEKey", a.AuthData.Credential.PublicKey.Raw)
			add("FuzzParseAttestationStatement", a.Statement.Raw)
		case u2f.CmdGetAssertion, u2f.CmdGetNextAssertion:
			if ex.request[0] == u2f.CmdGetAssertion {
				add("FuzzParseGetAssertionRequest", params)
			}
			add("FuzzParseGetAssertionResponse", body)
			add("FuzzParseAuthenticatorData", must[*u2f.Assertion](t)(u2f.ParseGetAssertionResponse(body)).AuthData.Raw)
		case u2f.CmdClientPIN:
			add("FuzzParseClientPINRequest", params)
			add("FuzzParseClientPINResponse", body)
		case u2f.CmdCredentialManagement:
			add("FuzzParseCredentialManagementRequest", params)
			add("FuzzParseCredentialManagementResponse", body)
		case u2f.CmdConfig:
			add("FuzzParseConfigRequest", params)
		case u2f.CmdGetInfo:
			add("FuzzParseGetInfo", body)
		}
	}
	if len(seeds) != 13 {
		t.Fatalf("seeds for %d targets, want 13: %v", len(seeds), keys(seeds))
	}
	if !*update {
		return
	}
	for target, list := range seeds {
		dir := filepath.Join("../../u2f/testdata/fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range list {
			f := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("softkey-%d", i+1)), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func keys(m map[string][][]byte) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

func unhexLine(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
