package inventory

import (
	"bytes"
	"testing"
)

// FuzzOpenValue feeds sealed values as the database could hold them after
// tampering: nothing but the exact sealed value opens, and a failure
// returns no plaintext.
func FuzzOpenValue(f *testing.F) {
	// A fixed nonce, so that the seeds are the same in every fuzzing
	// process.
	k, err := newKeyring(bytes.Repeat([]byte{1}, MasterKeySize), bytes.NewReader(make([]byte, 64)))
	if err != nil {
		f.Fatal(err)
	}
	plain := []byte("12345678901234567890")
	good, err := k.sealValue(plain, "fob/A/secret")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "fob/A/secret")
	f.Add(good, "fob/B/secret")
	f.Add(good[:len(good)-1], "fob/A/secret")
	f.Add([]byte{}, "fob/A/secret")
	f.Add(append([]byte{2}, good[1:]...), "fob/A/secret")
	f.Fuzz(func(t *testing.T, sealed []byte, row string) {
		got, err := k.openValue(sealed, row)
		if err != nil {
			if got != nil {
				t.Errorf("error %v with plaintext %x", err, got)
			}
			return
		}
		if !bytes.Equal(sealed, good) || row != "fob/A/secret" || !bytes.Equal(got, plain) {
			t.Errorf("opened %x for row %q from %x", got, row, sealed)
		}
	})
}

// FuzzDecodeHead: the audit head read from meta never panics and a
// well-formed one round-trips.
func FuzzDecodeHead(f *testing.F) {
	f.Add(encodeHead(auditHead{id: 6, mac: bytes.Repeat([]byte{9}, 32)}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHead(b)
		if err != nil {
			if len(b) >= 8 {
				t.Errorf("refused %x of %d bytes: %v", b, len(b), err)
			}
			return
		}
		if !bytes.Equal(encodeHead(h), b) {
			t.Errorf("%x decodes to %+v, which encodes differently", b, h)
		}
	})
}
