package desk

import (
	"context"
	"fmt"
	"os"

	"github.com/keydesk/keydesk/inventory"
)

// Rekeyed names the master key an inventory was sealed under, and the
// one it is sealed under now.
type Rekeyed struct {
	Old     string `json:"old_fingerprint"`
	New     string `json:"new_fingerprint"`
	KeyFile string `json:"key_file"`
}

// Rekey seals the inventory under a fresh master key and puts the key in
// keyFile. The new key is on disk (keyFile + ".new") before the inventory
// depends on it, so no crash leaves an inventory without its key: an
// interruption after the commit leaves the new key in ".new", and the
// error says to move it into place.
func (d *Desk) Rekey(ctx context.Context, keyFile string) (Rekeyed, error) {
	next := keyFile + ".new"
	key, err := inventory.NewMasterKey(d.rand)
	if err != nil {
		return Rekeyed{}, err
	}
	if err := inventory.WriteMasterKey(next, key); err != nil {
		return Rekeyed{}, fmt.Errorf("%w (remove %s if it is left from an earlier rekey that did not finish)", err, next)
	}
	old := d.store.MasterKeyFingerprint()
	if err := d.store.Rekey(ctx, key, d.actor); err != nil {
		os.Remove(next)
		return Rekeyed{}, err
	}
	if err := os.Rename(next, keyFile); err != nil {
		return Rekeyed{}, fmt.Errorf("the inventory is sealed under the new key in %s, but moving it into place failed: %w; run: mv %s %s", next, err, next, keyFile)
	}
	return Rekeyed{Old: old, New: d.store.MasterKeyFingerprint(), KeyFile: keyFile}, nil
}
