package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A failed export leaves no file behind, whole or partial, and never
// replaces a file that is there.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fobs.pskc")
	boom := errors.New("the inventory went away")
	err := writeFileAtomic(path, func(w io.Writer) error {
		w.Write([]byte("<KeyContainer>half a seed file"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed export left %v", left)
	}

	if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("whole")); return err }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { return nil }); err == nil {
		t.Fatal("an export replaced an existing file")
	}
	if b, _ := os.ReadFile(path); string(b) != "whole" {
		t.Fatalf("the existing file now holds %q", b)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("temporary files left: %v", left)
	}
}
