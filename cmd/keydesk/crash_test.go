package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/seedfile"
)

// TestImportKilledChangesNothing kills `keydesk import` with SIGKILL while it
// is storing a large file, then checks the inventory is as it was before:
// the same fobs, a sound audit log, and the file importable afterwards.
func TestImportKilledChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keydesk and imports a large file")
	}
	dir := t.TempDir()
	bin := testbin.Keydesk(t)
	db, key := filepath.Join(dir, "k.db"), filepath.Join(dir, "k.key")
	keydesk := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--db", db, "--master-key", key}, args...)...).CombinedOutput()
		return string(out), err
	}
	seed := filepath.Join(dir, "seed.hex")
	os.WriteFile(seed, []byte("3132333435363738393031323334353637383930\n"), 0o600)
	if out, err := keydesk("init"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := keydesk("fob", "add", "BEFORE-1", "--kind", "hotp", "--secret-file", seed); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	before, _ := keydesk("fob", "list", "--json")

	big := filepath.Join(dir, "big.pskc")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedfile.WritePSKC(f, seedfile.Synthetic(300_000), seedfile.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command(bin, "--db", db, "--master-key", key, "import", big)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the transaction has written to the WAL, then kill.
	wal := db + "-wal"
	deadline := time.Now().Add(60 * time.Second)
	for {
		if fi, err := os.Stat(wal); err == nil && fi.Size() > 4<<20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the import never got going")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	err = cmd.Wait()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the import ended by itself before the kill (%v); make the file bigger", err)
	}

	after, err := keydesk("fob", "list", "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, after)
	}
	if after != before {
		t.Errorf("the killed import left fobs behind:\nbefore %s\nafter  %.300s", before, after)
	}
	if out, err := keydesk("audit", "verify"); err != nil {
		t.Errorf("audit log after the kill: %v: %s", err, out)
	}
	if out, err := keydesk("import", big); err != nil || !strings.Contains(out, "imported 300000 fob(s)") {
		t.Errorf("importing again after the kill: %v: %s", err, out)
	}
	if out, _ := keydesk("fob", "show", "BEFORE-1"); !bytes.Contains([]byte(out), []byte("BEFORE-1")) {
		t.Errorf("the fob stored before is gone: %s", out)
	}
}
