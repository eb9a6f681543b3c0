package u2f

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// Spec examples: CTAP 2.0 §5.1 and §5.2 give a makeCredential answer
// (packed attestation, a Yubico test certificate) and a getAssertion
// answer for the same credential; the same values serve as vectors in
// python-fido2's tests. examplePacked is a real answer of a Yubico key
// with the clientDataHash it signed, from those tests too.
const (
	specRPIDHash   = "0021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12"
	specCredID     = "fe3aac036d14c1e1c65518b698dd1da8f596bc33e11072813466c6bf3845691509b80fb76d59309b8d39e0a93452688f6ca3a39a76f3fc52744fb73948b15783"
	specAuthDataMC = specRPIDHash + "410000001cf8a011f38c0a4d15800617111f9edc7d0040" + specCredID + "a5010203262001215820643566c206dd00227005fa5de69320616ca268043a38f08bde2e9dc45a5cafaf225820171353b2932434703726aae579fa6542432861fe591e481ea22d63997e1a5290"
	specMCResp     = "a301667061636b65640258c4" + specAuthDataMC + "03a363616c67266373696758483046022100cc1ef43edf07de8f208c21619c78a565ddcf4150766ad58781193be8e0a742ed022100f1ed7c7243e45b7d8e5bda6b1abf10af7391789d1ef21b70bd69fed48dba4cb163783563815901973082019330820138a003020102020900859b726cb24b4c29300a06082a8648ce3d0403023047310b300906035504061302555331143012060355040a0c0b59756269636f205465737431223020060355040b0c1941757468656e74696361746f72204174746573746174696f6e301e170d3136313230343131353530305a170d3236313230323131353530305a3047310b300906035504061302555331143012060355040a0c0b59756269636f205465737431223020060355040b0c1941757468656e74696361746f72204174746573746174696f6e3059301306072a8648ce3d020106082a8648ce3d03010703420004ad11eb0e8852e53ad5dfed86b41e6134a18ec4e1af8f221a3c7d6e636c80ea13c3d504ff2e76211bb44525b196c44cb4849979cf6f896ecd2bb860de1bf4376ba30d300b30090603551d1304023000300a06082a8648ce3d0403020349003046022100e9a39f1b03197525f7373e10ce77e78021731b94d0c03f3fda1fd22db3d030e7022100c4faec3445a820cf43129cdb00aabefd9ae2d874f9c5d343cb2f113da23723f3"
	specGAResp     = "a301a26269645840" + specCredID + "64747970656a7075626c69632d6b65790258250021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae12010000001d035846304402206765cbf6e871d3af7f01ae96f06b13c90f26f54b905c5166a2c791274fc2397102200b143893586cc799fba4da83b119eaea1bd80ac3ce88fcedb3efbd596a1f4f63"

	examplePacked    = "a301667061636b65640258c40021f5fc0b85cd22e60623bcd7d1ca48948909249b4776eb515154e57b66ae124100000003f8a011f38c0a4d15800617111f9edc7d004060a386206a3aacecbdbb22d601853d955fdc5d11adfbd1aa6a950d966b348c7663d40173714a9f987df6461beadfb9cd6419ffdfe4d4cf2eec1aa605a4f59bdaa50102032620012158200edb27580389494d74d2373b8f8c2e8b76fa135946d4f30d0e187e120b423349225820e03400d189e85a55de9ab0f538ed60736eb750f5f0306a80060fe1b13010560d03a363616c6726637369675847304502200d15daf337d727ab4719b4027114a2ac43cd565d394ced62c3d9d1d90825f0b3022100989615e7394c87f4ad91f8fdae86f7a3326df332b3633db088aac76bffb9a46b63783563815902bb308202b73082019fa00302010202041d31330d300d06092a864886f70d01010b0500302a3128302606035504030c1f59756269636f2050726576696577204649444f204174746573746174696f6e301e170d3138303332383036333932345a170d3139303332383036333932345a306e310b300906035504061302534531123010060355040a0c0959756269636f20414231223020060355040b0c1941757468656e74696361746f72204174746573746174696f6e3127302506035504030c1e59756269636f205532462045452053657269616c203438393736333539373059301306072a8648ce3d020106082a8648ce3d030107034200047d71e8367cafd0ea6cf0d61e4c6a416ba5bb6d8fad52db2389ad07969f0f463bfdddddc29d39d3199163ee49575a3336c04b3309d607f6160c81e023373e0197a36c306a302206092b0601040182c40a020415312e332e362e312e342e312e34313438322e312e323013060b2b0601040182e51c0201010404030204303021060b2b0601040182e51c01010404120410f8a011f38c0a4d15800617111f9edc7d300c0603551d130101ff04023000300d06092a864886f70d01010b050003820101009b904ceadbe1f1985486fead02baeaa77e5ab4e6e52b7e6a2666a4dc06e241578169193b63dadec5b2b78605a128b2e03f7fe2a98eaeb4219f52220995f400ce15d630cf0598ba662d7162459f1ad1fc623067376d4e4091be65ac1a33d8561b9996c0529ec1816d1710786384d5e8783aa1f7474cb99fe8f5a63a79ff454380361c299d67cb5cc7c79f0d8c09f8849b0500f6d625408c77cbbc26ddee11cb581beb7947137ad4f05aaf38bd98da10042ddcac277604a395a5b3eaa88a5c8bb27ab59c8127d59d6bbba5f11506bf7b75fda7561a0837c46f025fd54dcf1014fc8d17c859507ac57d4b1dea99485df0ba8f34d00103c3eef2ef3bbfec7a6613de"
	examplePackedCDH = "985b6187d042fb1258892ed637cec88617ddf5f6632351a545617aa2b75261bf"
)

func TestSpecMakeCredentialResponse(t *testing.T) {
	a, err := ParseMakeCredentialResponse(unhex(t, specMCResp))
	if err != nil {
		t.Fatal(err)
	}
	ad := a.AuthData
	if a.Format != "packed" || ad.Flags != FlagUserPresent|FlagAttestedCredential || ad.SignCount != 28 ||
		!bytes.Equal(ad.RPIDHash[:], unhex(t, specRPIDHash)) || !bytes.Equal(ad.Raw, unhex(t, specAuthDataMC)) {
		t.Errorf("format %q flags %02x count %d", a.Format, ad.Flags, ad.SignCount)
	}
	c := ad.Credential
	if c.AAGUID.String() != "f8a011f3-8c0a-4d15-8006-17111f9edc7d" || !bytes.Equal(c.ID, unhex(t, specCredID)) || c.PublicKey.Algorithm != ES256 {
		t.Errorf("credential %v %x %v", c.AAGUID, c.ID, c.PublicKey.Algorithm)
	}
	if a.Statement.Alg != ES256 || len(a.Statement.X5C) != 1 || len(a.Statement.Sig) != 72 {
		t.Errorf("statement alg %v, %d certificates, sig of %d bytes", a.Statement.Alg, len(a.Statement.X5C), len(a.Statement.Sig))
	}
	// Canonical encoding: keydesk's own encoding of the parsed answer is
	// the spec's bytes.
	again, err := a.Marshal()
	if err != nil || !bytes.Equal(again, unhex(t, specMCResp)) {
		t.Errorf("re-encoded %x, %v", again, err)
	}
}

func TestSpecGetAssertionResponse(t *testing.T) {
	a, err := ParseGetAssertionResponse(unhex(t, specGAResp))
	if err != nil {
		t.Fatal(err)
	}
	if a.Credential.Type != "public-key" || !bytes.Equal(a.Credential.ID, unhex(t, specCredID)) ||
		a.AuthData.Flags != FlagUserPresent || a.AuthData.SignCount != 29 || a.User != nil || a.NumberOfCredentials != 0 {
		t.Errorf("assertion %+v", a)
	}
	again, err := a.Marshal()
	if err != nil || !bytes.Equal(again, unhex(t, specGAResp)) {
		t.Errorf("re-encoded %x, %v", again, err)
	}
}

func TestRealPackedAttestationVerifies(t *testing.T) {
	a, err := ParseMakeCredentialResponse(unhex(t, examplePacked))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(a.Statement.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	signed := a.SignedData(unhex(t, examplePackedCDH))
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, signed, a.Statement.Sig); err != nil {
		t.Errorf("the key's attestation does not verify: %v", err)
	}
	signed[len(signed)-1] ^= 1
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, signed, a.Statement.Sig); err == nil {
		t.Error("verifies over another clientDataHash")
	}
}

func TestRequestsAreCanonical(t *testing.T) {
	cdh := sha256.Sum256([]byte("x"))
	r := &MakeCredentialRequest{ClientDataHash: cdh[:], RP: RelyingParty{ID: "example.com", Name: "Example"},
		User: User{ID: []byte{1}, Name: "n", DisplayName: "d"}, PubKeyCredParams: []CredentialParameter{{Type: CredentialType, Alg: ES256}},
		Options: map[string]bool{"uv": false, "rk": true, "up": true}, Extensions: &MakeCredentialExtensions{CredProtect: 2}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := hexString(b)
	// Integer keys 1..7 in order; "id" before "name" before "displayName"
	// (CTAP 2.1 §8: shorter keys first); options "rk" "up" "uv".
	for _, want := range []string{"a601582", "02a2626964", "6b646973706c61794e616d65", "07a362726bf5627570f5627576f4"} {
		if !strings.Contains(h, want) {
			t.Errorf("encoding %s lacks %s", h, want)
		}
	}
	if h[:2] != "a6" || strings.Index(h, "626964") > strings.Index(h, "646e616d65") {
		t.Errorf("not canonical: %s", h)
	}
	back, err := ParseMakeCredentialRequest(b)
	if err != nil || back.Extensions.CredProtect != 2 || !back.Options["rk"] || back.User.DisplayName != "d" {
		t.Errorf("round trip %+v, %v", back, err)
	}
	for _, bad := range []*MakeCredentialRequest{
		{RP: r.RP, User: r.User, PubKeyCredParams: r.PubKeyCredParams},
		{ClientDataHash: cdh[:5], RP: r.RP, User: r.User, PubKeyCredParams: r.PubKeyCredParams},
		{ClientDataHash: cdh[:], RP: r.RP, User: User{ID: make([]byte, 65)}, PubKeyCredParams: r.PubKeyCredParams},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("%+v encoded", bad)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// TestRequestErrorsCarryStatus: the authenticator's parsers say which
// status code to answer (CTAP 2.1 §8.2).
func TestRequestErrorsCarryStatus(t *testing.T) {
	for _, tt := range []struct {
		name  string
		parse func([]byte) error
		in    string
		want  CTAP2Error
	}{
		{"makeCredential, not CBOR", mcParse, "ff", ErrInvalidCBOR},
		{"makeCredential, rp a number", mcParse, "a1" + "0201", ErrCBORUnexpectedType},
		{"makeCredential, empty", mcParse, "a0", ErrMissingParameter},
		{"getAssertion, no clientDataHash", gaParse, "a10161" + "61", ErrMissingParameter},
		{"getAssertion, short clientDataHash", gaParse, "a2016161024101", ErrInvalidLength},
		{"clientPIN, no subCommand", func(b []byte) error { _, err := ParseClientPINRequest(b); return err }, "a10102", ErrMissingParameter},
		{"clientPIN, key off the curve", func(b []byte) error { _, err := ParseClientPINRequest(b); return err },
			"a30102020203a5010203381820012158200000000000000000000000000000000000000000000000000000000000000001225820" + strings.Repeat("00", 32), ErrInvalidParameter},
		{"credentialManagement, params not a map", func(b []byte) error { _, err := ParseCredentialManagementRequest(b); return err }, "a201040201", ErrCBORUnexpectedType},
		{"config, duplicate key", func(b []byte) error { _, err := ParseConfigRequest(b); return err }, "a201020102", ErrInvalidCBOR},
	} {
		err := tt.parse(unhex(t, tt.in))
		var code CTAP2Error
		if !errors.As(err, &code) || code != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func mcParse(b []byte) error { _, err := ParseMakeCredentialRequest(b); return err }
func gaParse(b []byte) error { _, err := ParseGetAssertionRequest(b); return err }
