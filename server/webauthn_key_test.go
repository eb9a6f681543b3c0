package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// testKey is a security key made in the test, as a browser would pass its
// answers on: registrations with "none" attestation and logins signed
// with its P-256 key, over client data naming the origin given.
type testKey struct {
	t       testing.TB
	id      []byte
	priv    *ecdsa.PrivateKey
	counter uint32
	rpID    string // what its rpIdHash names: the RP ID, or an AppID
	aaguid  [16]byte
}

func newTestKey(t testing.TB, rpID string) *testKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &testKey{t: t, id: id, priv: priv, rpID: rpID}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func clientData(t testing.TB, ceremony string, challenge []byte, origin string) []byte {
	b, err := json.Marshal(map[string]any{"type": ceremony, "challenge": b64(challenge), "origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// point is the key's public key as U2F keeps it: 0x04 || X || Y.
func (k *testKey) point() []byte {
	pub, err := k.priv.PublicKey.ECDH()
	if err != nil {
		k.t.Fatal(err)
	}
	return pub.Bytes()
}

func (k *testKey) cose() []byte {
	p := k.point()
	b, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: p[1:33], -3: p[33:]})
	if err != nil {
		k.t.Fatal(err)
	}
	return b
}

// register answers a registration's challenge as the browser's
// PublicKeyCredential JSON.
func (k *testKey) register(challenge []byte, origin string) map[string]any {
	rp := sha256.Sum256([]byte(k.rpID))
	ad := slices.Concat(rp[:], []byte{0x41}, binary.BigEndian.AppendUint32(nil, k.counter), k.aaguid[:])
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = slices.Concat(ad, k.id, k.cose())
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(clientData(k.t, "webauthn.create", challenge, origin)),
			"attestationObject": b64(obj), "transports": []string{"usb"}},
		"clientExtensionResults": map[string]any{}}
}

// login answers a login's challenge, its counter one up.
func (k *testKey) login(challenge []byte, origin string) map[string]any {
	k.counter++
	rp := sha256.Sum256([]byte(k.rpID))
	ad := slices.Concat(rp[:], []byte{0x01}, binary.BigEndian.AppendUint32(nil, k.counter))
	cd := clientData(k.t, "webauthn.get", challenge, origin)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(slices.Concat(ad, h[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig)},
		"clientExtensionResults": map[string]any{"appid": k.rpID != "" && k.rpID[0] == 'h'}}
}

// challengeOf reads the challenge of a begin's answer.
func challengeOf(t testing.TB, m map[string]any) []byte {
	t.Helper()
	pk, _ := m["publicKey"].(map[string]any)
	s, _ := pk["challenge"].(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 16 {
		t.Fatalf("no challenge in %v", m)
	}
	return b
}
