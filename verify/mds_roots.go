package verify

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
)

// The roots of the FIDO Metadata Service BLOB (see roots/mds/README.md):
// GlobalSign Root CA - R3, named by MDS3 §3.2, and GlobalSign Root R46,
// which signs the BLOB since August 2026. They are kept apart from the
// vendor roots of roots/*.pem, which attestation chains to.
//
//go:embed roots/mds/*.pem
var fidoRoots embed.FS

// FIDOMetadataRoots returns the roots a FIDO MDS BLOB must chain to when
// the caller names none.
func FIDOMetadataRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	entries, err := fidoRoots.ReadDir("roots/mds")
	if err != nil {
		panic(fmt.Sprintf("verify: built-in FIDO roots: %v", err))
	}
	for _, e := range entries {
		b, _ := fidoRoots.ReadFile("roots/mds/" + e.Name())
		blk, _ := pem.Decode(b)
		if blk == nil {
			panic("verify: built-in FIDO root " + e.Name() + " is not PEM")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			panic(fmt.Sprintf("verify: built-in FIDO root %s: %v", e.Name(), err))
		}
		pool.AddCert(c)
	}
	return pool
}
