package verify

import (
	"embed"
	"fmt"
)

// The vendor roots keydesk trusts out of the box, kept as PEM files in
// roots/ (Yubico's U2F root CA, serial 457200631, to start).
//
//go:embed roots/*.pem
var builtinRoots embed.FS

// BuiltinTrustStore returns a trust store of the roots keydesk ships.
func BuiltinTrustStore() (*TrustStore, error) {
	entries, err := builtinRoots.ReadDir("roots")
	if err != nil {
		return nil, err
	}
	var pems [][]byte
	for _, e := range entries {
		b, err := builtinRoots.ReadFile("roots/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("built-in root %s: %w", e.Name(), err)
		}
		pems = append(pems, b)
	}
	return NewTrustStore(pems...)
}
