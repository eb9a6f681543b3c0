package inventory

import (
	"bytes"
	"strings"
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

// FuzzDecodeHead: the audit head read from meta never panics, a refusal
// leaves nothing, and one that decodes round-trips.
func FuzzDecodeHead(f *testing.F) {
	k, _ := newKeyring(bytes.Repeat([]byte{1}, MasterKeySize), nil)
	f.Add(encodeHead(k.newHead(6, bytes.Repeat([]byte{9}, 32))))
	f.Add(encodeHead(k.newHead(0, nil)))
	f.Add(append(bytes.Repeat([]byte{9}, 32), 0, 0, 0, 0, 0, 0, 0, 6)) // an older keydesk's
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHead(b)
		if err != nil {
			if h.id != 0 || h.mac != nil || h.tag != nil {
				t.Fatalf("refused %x with a half-filled head %+v", b, h)
			}
			return
		}
		if !bytes.Equal(encodeHead(h), b) {
			t.Errorf("%x decodes to %+v, which encodes differently", b, h)
		}
	})
}

// FuzzParseHeadFile: the head file is outside data; a refusal names its
// line and leaves nothing, and a head that parses writes back the same.
func FuzzParseHeadFile(f *testing.F) {
	k, _ := newKeyring(bytes.Repeat([]byte{1}, MasterKeySize), nil)
	f.Add(formatHeadFile(k.newHead(1234, bytes.Repeat([]byte{7}, 32))))
	f.Add(formatHeadFile(k.newHead(0, nil)))
	f.Add([]byte("keydesk audit head v2\nentry -1\nmac \ntag 00\n"))
	f.Add([]byte("keydesk audit head v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeadFile(b)
		if err != nil {
			if h.id != 0 || h.mac != nil || h.tag != nil {
				t.Fatalf("refused %q with a half-filled head %+v", b, h)
			}
			if !strings.Contains(err.Error(), "line") && !strings.Contains(err.Error(), "fit together") && !strings.Contains(err.Error(), "larger") {
				t.Errorf("error %q names no line", err)
			}
			return
		}
		if got := formatHeadFile(h); !bytes.Equal(got, b) && !bytes.Equal(got, append(b, '\n')) {
			t.Errorf("%q parses to %+v, which writes as %q", b, h, got)
		}
	})
}
