package server

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// contribConfig is the example config shipped for administrators: every
// key of Config, with its default.
var contribConfig = filepath.Join("..", "contrib", "keydesk.json")

// defaultConfigJSON is Config with nothing set and then defaulted, as
// JSON: what contrib/keydesk.json must hold.
func defaultConfigJSON(t *testing.T) []byte {
	t.Helper()
	var c Config
	c.Default()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestContribConfig keeps contrib/keydesk.json complete as Config grows:
// it fails on a key the file lacks, one it has that Config does not, or
// a default that changed. go test ./server -run TestContribConfig -update
// writes the file again from Config.
func TestContribConfig(t *testing.T) {
	want := defaultConfigJSON(t)
	if *update {
		if err := os.WriteFile(contribConfig, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(contribConfig)
	if err != nil {
		t.Fatal(err)
	}
	var wantDoc, haveDoc any
	if err := json.Unmarshal(want, &wantDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(have, &haveDoc); err != nil {
		t.Fatalf("%s: %v", contribConfig, err)
	}
	missing, extra := keyDiff("", wantDoc, haveDoc), keyDiff("", haveDoc, wantDoc)
	for _, k := range missing {
		t.Errorf("%s lacks %q, which Config has (go test ./server -run TestContribConfig -update)", contribConfig, k)
	}
	for _, k := range extra {
		t.Errorf("%s has %q, which Config does not", contribConfig, k)
	}
	if len(missing) == 0 && len(extra) == 0 && !bytes.Equal(bytes.TrimSpace(have), bytes.TrimSpace(want)) {
		t.Errorf("%s does not hold Config's defaults (go test ./server -run TestContribConfig -update):\n%s", contribConfig, want)
	}
	// The file is a config the server takes as it is.
	c, err := ParseConfig(bytes.NewReader(have))
	if err != nil {
		t.Fatalf("%s: %v", contribConfig, err)
	}
	c.Default()
	if err := c.Validate(); err != nil {
		t.Errorf("%s: %v", contribConfig, err)
	}
}

// keyDiff lists the keys of a that b lacks, as dotted paths, into
// nested objects.
func keyDiff(prefix string, a, b any) []string {
	am, ok := a.(map[string]any)
	if !ok {
		return nil
	}
	bm, _ := b.(map[string]any)
	var out []string
	for k, v := range am {
		bv, found := bm[k]
		if !found {
			out = append(out, prefix+k)
			continue
		}
		out = append(out, keyDiff(prefix+k+".", v, bv)...)
	}
	slices.Sort(out)
	return out
}
