package softkey

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/keydesk/keydesk/u2f"
)

// python3Fido2 finds a python3 that has Debian's python3-fido2, or skips.
func python3Fido2(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import fido2").Run() == nil {
			return path
		}
	}
	t.Skip("python3-fido2 is not installed (apt-get install python3-fido2): no independent check of the soft key")
	return ""
}

// TestPythonFido2 has python-fido2, an independent host implementation,
// parse and verify the soft key's answers (getInfo, packed attestations
// of ES256 and EdDSA credentials, assertions) and play the platform of
// both PIN/UV auth protocols against the soft key's own side.
func TestPythonFido2(t *testing.T) {
	py := python3Fido2(t)
	r := newRig(t, Config{})
	c := r.open()
	ctx := context.Background()
	in := map[string]string{"client_data_hash": hex.EncodeToString(cdh[:])}
	raw := must[[]byte](t)(c.Transact(ctx, 0x10, []byte{u2f.CmdGetInfo}))
	in["get_info"] = hex.EncodeToString(raw[1:])
	for name, alg := range map[string]u2f.COSEAlgorithm{"es256": u2f.ES256, "eddsa": u2f.EdDSA} {
		req := mcRequest("alice", false)
		req.PubKeyCredParams = []u2f.CredentialParameter{{Type: u2f.CredentialType, Alg: alg}}
		att := must[*u2f.Attestation](t)(makeCred(t, r, c, req, nil))
		in["attestation_object_"+name] = hex.EncodeToString(must[[]byte](t)(att.AttestationObject()))
		a := must[*u2f.Assertion](t)(assert(t, r, c, gaRequest(att.AuthData.Credential.ID), nil))
		in["assertion_auth_data_"+name] = hex.EncodeToString(a.AuthData.Raw)
		in["assertion_signature_"+name] = hex.EncodeToString(a.Signature)
	}
	r.key.mu.Lock()
	for _, p := range []u2f.PINProtocol{1, 2} {
		resp := &u2f.ClientPINResponse{KeyAgreement: r.key.pin.keys[p].PublicKey()}
		b := must[[]byte](t)(resp.Marshal())
		var m map[int]cbor.RawMessage
		if err := cbor.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		in["key_agreement_"+string(rune('0'+p))] = hex.EncodeToString(m[1])
	}
	r.key.mu.Unlock()

	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	b, _ := json.Marshal(in)
	if err := os.WriteFile(src, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "../../testdata/u2f/fido2_check.py", src, dst)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python-fido2 refuses the soft key's answers: %v\n%s", err, msg)
	}
	var out struct {
		AAGUID  string          `json:"aaguid"`
		Options map[string]bool `json:"options"`
		AlgES   int             `json:"alg_es256"`
		AlgEd   int             `json:"alg_eddsa"`
		PIN1    pinFromPython   `json:"pin_1"`
		PIN2    pinFromPython   `json:"pin_2"`
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.AAGUID != hex.EncodeToString(AAGUID[:]) || !out.Options["credMgmt"] || out.AlgES != -7 || out.AlgEd != -8 {
		t.Errorf("python-fido2 read %+v", out)
	}
	// The soft key's side of each protocol takes what python's platform
	// side made: the shared secret agrees, the param verifies, the PIN
	// and its hash decrypt.
	for p, got := range map[u2f.PINProtocol]pinFromPython{1: out.PIN1, 2: out.PIN2} {
		req := &u2f.ClientPINRequest{}
		var ka cbor.RawMessage = unhexLine(t, got.KeyAgreement)
		wire, _ := cbor.Marshal(map[int]any{2: 2, 3: ka})
		parsed, err := u2f.ParseClientPINRequest(wire)
		if err != nil {
			t.Fatalf("protocol %d: python's key agreement: %v", p, err)
		}
		req.KeyAgreement = parsed.KeyAgreement
		s, err := p.Decapsulate(r.key.pin.keys[p], req.KeyAgreement)
		if err != nil {
			t.Fatal(err)
		}
		newPIN := unhexLine(t, got.NewPINEnc)
		if !s.Verify(newPIN, unhexLine(t, got.Param)) {
			t.Errorf("protocol %d: python's pinUvAuthParam does not verify", p)
		}
		padded, err := s.Decrypt(newPIN)
		pin, _ := u2f.UnpadPIN(padded)
		hash, err2 := s.Decrypt(unhexLine(t, got.PINHashEnc))
		if err != nil || err2 != nil || string(pin) != "1234" || hex.EncodeToString(hash) != hex.EncodeToString(u2f.PINHash([]byte("1234"))) {
			t.Errorf("protocol %d: PIN %q hash %x (%v, %v)", p, pin, hash, err, err2)
		}
	}
}

type pinFromPython struct {
	KeyAgreement string `json:"key_agreement"`
	PINHashEnc   string `json:"pin_hash_enc"`
	NewPINEnc    string `json:"new_pin_enc"`
	Param        string `json:"pin_uv_auth_param"`
}
