package u2f

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// specGetInfo is the authenticatorGetInfo example answer of CTAP 2.0 §5.4 (a
// Yubico Security Key): versions U2F_V2 and FIDO_2_0, extensions uvm and
// hmac-secret, options rk, up, plat and clientPin, maxMsgSize 1200, PIN
// protocol 1.
const specGetInfo = "a60182665532465f5632684649444f5f325f3002826375766d6b686d61632d7365637265740350f8a011f38c0a4d15800617111f9edc7d04a462726bf5627570f564706c6174f469636c69656e7450696ef4051904b0068101"

func TestParseGetInfoSpecExample(t *testing.T) {
	info, err := ParseGetInfo(unhex(t, specGetInfo))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(info.Versions, ",") != "U2F_V2,FIDO_2_0" || strings.Join(info.Extensions, ",") != "uvm,hmac-secret" {
		t.Errorf("versions %v extensions %v", info.Versions, info.Extensions)
	}
	if info.AAGUID.String() != "f8a011f3-8c0a-4d15-8006-17111f9edc7d" {
		t.Errorf("aaguid %v", info.AAGUID)
	}
	if !info.Options["rk"] || !info.Options["up"] || info.Options["plat"] || info.Options["clientPin"] || len(info.Options) != 4 {
		t.Errorf("options %v", info.Options)
	}
	if info.MaxMsgSize != 1200 || len(info.PinUVAuthProtocols) != 1 || info.PinUVAuthProtocols[0] != 1 {
		t.Errorf("maxMsgSize %d pinProtocols %v", info.MaxMsgSize, info.PinUVAuthProtocols)
	}
	j, _ := json.Marshal(info)
	if !strings.Contains(string(j), `"aaguid":"f8a011f3-8c0a-4d15-8006-17111f9edc7d"`) {
		t.Errorf("json %s", j)
	}
}

func TestParseGetInfoErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"no versions", "a10350f8a011f38c0a4d15800617111f9edc7d", "key 0x01 (versions) missing"},
		{"short aaguid", "a20181665532465f56320343010203", "key 0x03 (aaguid) has 3 bytes, want 16"},
		{"versions type", "a10101", "key 0x01: positive integer is not a []string"},
		{"duplicate key", "a2018166553246" + "5f5632" + "018166553246" + "5f5632", "duplicate map key"},
		{"trailing", specGetInfo + "00", "extraneous data"},
		{"cut", specGetInfo[:40], "unexpected EOF"},
		{"indefinite", "bf0181665532465f5632ff", "indefinite-length"},
	} {
		info, err := ParseGetInfo(unhex(t, tt.in))
		if info != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParseGetInfo(f *testing.F) {
	f.Add(unhex(f, specGetInfo))
	b, _ := hex.DecodeString("a20181665532465f56320350000102030405060708090a0b0c0d0e0f")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseGetInfo(b)
		if (info == nil) == (err == nil) {
			t.Fatalf("info %v with error %v", info != nil, err)
		}
		if info != nil && len(info.Versions) == 0 {
			t.Fatal("accepted an answer without versions")
		}
	})
}
