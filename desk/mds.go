package desk

// The FIDO Metadata Service at the desk: a BLOB is fetched elsewhere (the
// desk works offline), imported here, checked by verify, and kept in the
// inventory, where the desk and the server read it.

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// MDSImport is what importing a BLOB found.
type MDSImport struct {
	Blob     inventory.MDSBlob
	Previous int // the serial of the BLOB it replaced, 0 if none
	Warnings []string
}

// ErrMDSOlder is a BLOB no newer than the one the inventory holds: MDS3
// §3.1.6 numbers BLOBs in strictly increasing order, so an older one is
// a rollback, which would bring back models since revoked.
var ErrMDSOlder = verify.Refusef("the FIDO metadata BLOB is not newer than the one imported")

// ImportMDS checks a FIDO MDS3 BLOB (a JWT) with verify: its signature
// chain must lead to the FIDO Alliance's roots built into keydesk, or to
// rootsPEM when given (a test or private metadata service), and its
// nextUpdate must not have passed. The BLOB then replaces the one
// before, with its audit entry.
func (d *Desk) ImportMDS(ctx context.Context, blob, rootsPEM []byte) (MDSImport, error) {
	roots, err := mdsRoots(rootsPEM)
	if err != nil {
		return MDSImport{}, err
	}
	m, err := verify.ParseMDS(blob, roots, d.store.Now())
	if err != nil {
		return MDSImport{}, err
	}
	b := inventory.MDSBlob{Blob: blob, Serial: m.Serial, NextUpdate: m.NextUpdate, Roots: rootsPEM, Signer: m.Signer,
		Models: m.Len(), ImportedBy: d.actor}
	out := MDSImport{Warnings: m.Warnings}
	sum := sha256.Sum256(blob)
	err = d.update(ctx, func(tx *inventory.Tx) error {
		prev, err := tx.MDSSerial()
		if err != nil {
			return err
		}
		if prev >= m.Serial {
			return fmt.Errorf("%w: this is no %d, the inventory holds no %d", ErrMDSOlder, m.Serial, prev)
		}
		out.Previous = prev
		if err := tx.PutMDSBlob(b); err != nil {
			return err
		}
		return tx.Audit(d.actor, "mds import", "mds", fmt.Sprintf("BLOB no %d, %d models, next update %s, signed by %q, sha256 %s",
			m.Serial, m.Len(), m.NextUpdate.Format("2006-01-02"), m.Signer, hex.EncodeToString(sum[:])))
	})
	if err != nil {
		return MDSImport{}, err
	}
	b.ImportedAt = d.store.Now().UTC().Truncate(time.Second)
	out.Blob = b
	return out, nil
}

// MDS is the BLOB last imported, checked again as of now: nil when none
// was imported; [verify.ErrMDSStale] once its nextUpdate has passed, so
// that a registration waits for a fresh BLOB rather than missing a
// revocation.
func (d *Desk) MDS(ctx context.Context) (*verify.MDS, error) {
	b, err := d.store.MDSBlob(ctx)
	if errors.Is(err, inventory.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	roots, err := mdsRoots(b.Roots)
	if err != nil {
		return nil, err
	}
	m, err := verify.ParseMDS(b.Blob, roots, d.store.Now())
	if err != nil {
		return nil, fmt.Errorf("the FIDO metadata BLOB imported %s: %w", b.ImportedAt.Format("2006-01-02"), err)
	}
	return m, nil
}

// MDSBlob describes the BLOB last imported; [inventory.ErrNotFound] if none.
func (d *Desk) MDSBlob(ctx context.Context) (inventory.MDSBlob, error) { return d.store.MDSBlob(ctx) }

// mdsRoots reads the PEM roots a BLOB is checked against; nil (FIDO's
// built-in roots) when there are none.
func mdsRoots(pem []byte) (*x509.CertPool, error) {
	if len(pem) == 0 {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the metadata root holds no PEM certificate")
	}
	return pool, nil
}
