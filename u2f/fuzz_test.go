package u2f

import (
	"bytes"
	"testing"
)

// The fuzz targets of every CTAP2 parser. Their seeds are in
// testdata/fuzz/<Target>: real answers and requests of the soft key
// (go test ./hid/softkey -run TestRecordFuzzSeeds -update). Each target
// checks that a parse gives a value or an error, never both or neither,
// and that what it accepts encodes back to something it accepts again.

// fuzzParse runs parse on b and, when it succeeds, re-encodes the value
// with marshal and parses that again.
func fuzzParse[T any](t *testing.T, b []byte, parse func([]byte) (*T, error), marshal func(*T) ([]byte, error)) *T {
	v, err := parse(b)
	if (v == nil) == (err == nil) {
		t.Fatalf("value %v with error %v", v != nil, err)
	}
	if v == nil || marshal == nil {
		return v
	}
	again, err := marshal(v)
	if err != nil {
		t.Fatalf("accepted, but does not encode: %v", err)
	}
	if _, err := parse(again); err != nil {
		t.Fatalf("accepted %x, but not its re-encoding %x: %v", b, again, err)
	}
	return v
}

func FuzzParseAuthenticatorData(f *testing.F) {
	f.Add(make([]byte, 37))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := fuzzParse(t, b, ParseAuthenticatorData, (*AuthenticatorData).Marshal)
		if d != nil && !bytes.Equal(d.Raw, b) {
			t.Fatal("Raw is not the input")
		}
		if d != nil && d.Credential != nil && (len(d.Credential.ID) == 0 || d.Credential.PublicKey.Public == nil) {
			t.Fatal("accepted a credential without an ID or a key")
		}
	})
}

func FuzzParseCOSEKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		k := fuzzParse(t, b, ParseCOSEKey, nil)
		if k == nil {
			return
		}
		again, err := NewCOSEKey(k.Public)
		if err != nil || again.Algorithm != k.Algorithm {
			t.Fatalf("accepted a key that does not encode: %v", err)
		}
	})
}

func FuzzParseAttestationStatement(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{FormatPacked, FormatU2F, FormatNone, "tpm"} {
			st := fuzzParse(t, b, func(b []byte) (*AttestationStatement, error) { return ParseAttestationStatement(format, b) }, nil)
			if st != nil && (format == FormatPacked || format == FormatU2F) && len(st.Sig) == 0 {
				t.Fatalf("%s statement without a signature", format)
			}
		}
	})
}

func FuzzParseMakeCredentialResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a := fuzzParse(t, b, ParseMakeCredentialResponse, (*Attestation).Marshal)
		if a != nil && (a.AuthData.Credential == nil || a.Statement == nil) {
			t.Fatal("accepted an attestation without its credential")
		}
		if a != nil {
			if _, err := a.AttestationObject(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseGetAssertionResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a := fuzzParse(t, b, ParseGetAssertionResponse, (*Assertion).Marshal)
		if a != nil && (len(a.Signature) == 0 || a.AuthData == nil) {
			t.Fatal("accepted an assertion without signature or authenticator data")
		}
	})
}

func FuzzParseClientPINResponse(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzParse(t, b, ParseClientPINResponse, (*ClientPINResponse).Marshal)
	})
}

func FuzzParseCredentialManagementResponse(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := fuzzParse(t, b, ParseCredentialManagementResponse, (*CredentialManagementResponse).Marshal)
		if r != nil && r.RPIDHash != nil && len(r.RPIDHash) != 32 {
			t.Fatal("accepted an rpIDHash that is not 32 bytes")
		}
	})
}

// The authenticator's side: the soft key parses these requests.

func FuzzParseMakeCredentialRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r := fuzzParse(t, b, ParseMakeCredentialRequest, (*MakeCredentialRequest).Marshal)
		if r != nil && (len(r.ClientDataHash) != 32 || r.RP.ID == "" || len(r.User.ID) == 0) {
			t.Fatal("accepted a request without its required parameters")
		}
	})
}

func FuzzParseGetAssertionRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzParse(t, b, ParseGetAssertionRequest, (*GetAssertionRequest).Marshal)
	})
}

func FuzzParseClientPINRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzParse(t, b, ParseClientPINRequest, (*ClientPINRequest).Marshal)
	})
}

func FuzzParseCredentialManagementRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzParse(t, b, ParseCredentialManagementRequest, (*CredentialManagementRequest).Marshal)
	})
}

func FuzzParseConfigRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzParse(t, b, ParseConfigRequest, (*ConfigRequest).Marshal)
	})
}
