package inventory

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestResealApplications checks what Rekey needs: RADIUS secrets sealed
// again under the new key open with it, and no longer with the old.
func TestResealApplications(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "k.db"), bytes.Repeat([]byte{1}, MasterKeySize), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret := []byte("a secret long enough for RADIUS")
	err = s.Update(ctx, func(tx *Tx) error {
		_, _, err := tx.AddApplication(NewApplication{Name: "vpn", RADIUSSecret: secret,
			RADIUSSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	old := s.keys
	nk, err := newKeyring(bytes.Repeat([]byte{2}, MasterKeySize), old.rand)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return resealApplications(tx, old, nk) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RADIUSClients(ctx); err == nil {
		t.Error("the old key still opens a resealed secret")
	}
	s.keys = nk
	clients, err := s.RADIUSClients(ctx)
	if err != nil || len(clients) != 1 || !bytes.Equal(clients[0].Secret, secret) {
		t.Errorf("under the new key: %v, %v", clients, err)
	}
}
