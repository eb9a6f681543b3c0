package desk

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/seedfile"
	"github.com/keydesk/keydesk/verify"
)

// BenchmarkImport100k imports a 100,000-fob plain PSKC file into a fresh
// inventory: parsing, sealing and storing, in one transaction.
func BenchmarkImport100k(b *testing.B) {
	var file bytes.Buffer
	if err := seedfile.WritePSKC(&file, seedfile.Synthetic(100_000), seedfile.ExportOptions{}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		key, _ := inventory.NewMasterKey(rand.Reader)
		st, err := inventory.Open(ctx, filepath.Join(b.TempDir(), "k.db"), key, inventory.Options{Create: true})
		if err != nil {
			b.Fatal(err)
		}
		d := New(st, verify.New(st, verify.DefaultPolicy)).As("bench")
		b.StartTimer()
		res, err := d.Import(ctx, ImportRequest{Files: []SeedFile{{Name: "bench.pskc", R: bytes.NewReader(file.Bytes())}}})
		if err != nil || res.Total() != 100_000 {
			b.Fatalf("imported %d: %v", res.Total(), err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)*100_000/b.Elapsed().Seconds(), "fobs/s")
}
