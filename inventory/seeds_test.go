package inventory_test

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/keydesk/keydesk/internal/testfob"
	"github.com/keydesk/keydesk/inventory"
)

// The seed's hash is keyed: the database holds neither the seed nor its
// plain SHA-256, and two inventories hash one seed differently.
func TestSeedHashIsKeyed(t *testing.T) {
	seed := testfob.Seed("shared", 20)
	hashes := map[string]bool{}
	for range 2 {
		fx := newStore(t) // the same master key, but a hash key of its own
		tok := testfob.HOTP("H-1")
		tok.Secret = seed
		fx.update(t, func(tx *inventory.Tx) error { return tx.AddFob(tok, 0, 0) })
		var h []byte
		if err := fx.raw(t).QueryRowContext(t.Context(), `SELECT seed_hash FROM fobs WHERE serial = 'H-1'`).Scan(&h); err != nil {
			t.Fatal(err)
		}
		plain := sha256.Sum256(seed)
		if len(h) != 16 || bytes.Contains(h, seed) || bytes.Equal(h, plain[:16]) {
			t.Errorf("seed hash %x of seed %x", h, seed)
		}
		hashes[string(h)] = true
	}
	if len(hashes) != 2 {
		t.Error("two inventories hash one seed alike")
	}
}

func TestSharedSeeds(t *testing.T) {
	fx := newStore(t)
	seed := testfob.Seed("pair", 20)
	add := func(tx *inventory.Tx, serial string, batch int64, shared bool) error {
		tok := testfob.HOTP(serial)
		if shared {
			tok.Secret = seed
		}
		return tx.AddFob(tok, batch, 0)
	}
	var b1, b2 int64
	fx.update(t, func(tx *inventory.Tx) error {
		first, err := tx.AddBatch(inventory.Batch{Name: "first", ImportedBy: "t"})
		if err != nil {
			return err
		}
		b1 = first.ID
		if err := add(tx, "A-1", b1, true); err != nil {
			return err
		}
		return add(tx, "A-2", b1, false)
	})
	fx.update(t, func(tx *inventory.Tx) error {
		second, err := tx.AddBatch(inventory.Batch{Name: "second", ImportedBy: "t"})
		if err != nil {
			return err
		}
		b2 = second.ID
		for _, f := range []struct {
			serial string
			shared bool
		}{{"B-1", true}, {"B-2", false}, {"B-3", true}, {"B-4", false}} {
			if err := add(tx, f.serial, b2, f.shared); err != nil {
				return err
			}
		}
		return nil
	})
	fx.update(t, func(tx *inventory.Tx) error {
		twins, err := tx.FobsWithSeed(seed)
		if err != nil || !slices.Equal(twins, []string{"A-1", "B-1", "B-3"}) {
			t.Errorf("fobs with the seed: %v %v", twins, err)
		}
		// The first batch had no pair when it came; now its fob has a
		// twin in the second, which is where the pair is named.
		if shared, n, err := tx.SharedSeeds(b1, 10); err != nil || n != 0 || len(shared) != 0 {
			t.Errorf("first batch: %v %d %v", shared, n, err)
		}
		shared, n, err := tx.SharedSeeds(b2, 10)
		want := []inventory.SharedSeed{{Serial: "B-1", Other: "A-1"}, {Serial: "B-3", Other: "A-1"}}
		if err != nil || n != 2 || !slices.Equal(shared, want) {
			t.Errorf("second batch: %v %d %v, want %v", shared, n, err, want)
		}
		// A short page still counts them all.
		if shared, n, err := tx.SharedSeeds(b2, 1); err != nil || n != 2 || len(shared) != 1 {
			t.Errorf("a page of one: %v %d %v", shared, n, err)
		}
		return nil
	})
}

// Fobs stored before seeds were hashed get their hash when the store
// opens, and a pair among them is found.
func TestSeedHashBackfill(t *testing.T) {
	fx := newStore(t)
	seed := testfob.Seed("old pair", 20)
	fx.update(t, func(tx *inventory.Tx) error {
		for _, s := range []string{"O-1", "O-2", "O-3"} {
			tok := testfob.HOTP(s)
			if s != "O-2" {
				tok.Secret = seed
			}
			if err := tx.AddFob(tok, 0, 0); err != nil {
				return err
			}
		}
		return nil
	})
	mustExec(t, fx.raw(t), `UPDATE fobs SET seed_hash = NULL`)
	fx.reopen(t, fx.key)
	var missing int
	if err := fx.raw(t).QueryRowContext(t.Context(), `SELECT count(*) FROM fobs WHERE seed_hash IS NULL`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d fobs without a hash after reopening: %v", missing, err)
	}
	fx.update(t, func(tx *inventory.Tx) error {
		if twins, err := tx.FobsWithSeed(seed); err != nil || !slices.Equal(twins, []string{"O-1", "O-3"}) {
			t.Errorf("fobs with the old pair's seed: %v %v", twins, err)
		}
		return nil
	})
}

func TestRemoveBatch(t *testing.T) {
	fx := newStore(t)
	fx.update(t, func(tx *inventory.Tx) error {
		empty, err := tx.AddBatch(inventory.Batch{Name: "empty", ImportedBy: "t"})
		if err != nil {
			return err
		}
		full, err := tx.AddBatch(inventory.Batch{Name: "full", ImportedBy: "t"})
		if err != nil {
			return err
		}
		if err := tx.AddFob(testfob.HOTP("F-1"), full.ID, 0); err != nil {
			return err
		}
		if err := tx.RemoveBatch(full.ID); err == nil {
			t.Error("removed a batch that holds a fob")
		}
		return tx.RemoveBatch(empty.ID)
	})
	batches, err := fx.s.Batches(t.Context())
	if err != nil || len(batches) != 1 || batches[0].Name != "full" {
		t.Errorf("batches %+v %v", batches, err)
	}
}
