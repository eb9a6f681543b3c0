package seedfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchDir holds the benchmarks' generated files for one test run; they
// take a second or two to write, so each is written once, not per b.N.
var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchFile writes n synthetic fobs to a file once per run.
func benchFile(b *testing.B, name string, n int, o ExportOptions) string {
	b.Helper()
	if benchDir == "" {
		d, err := os.MkdirTemp("", "keydesk-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	path := filepath.Join(benchDir, name)
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := WritePSKC(w, Synthetic(n), o); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

func benchRead(b *testing.B, path string, n int, k Keys) {
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := NewReader("bench.pskc", f, PSKC, k)
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		f.Close()
		if got != n {
			b.Fatalf("read %d fobs, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "fobs/s")
}

// 100,000 fobs in the clear.
func BenchmarkPSKCPlain100k(b *testing.B) {
	benchRead(b, benchFile(b, "plain-100k.pskc", 100_000, ExportOptions{}), 100_000, Keys{})
}

// 100,000 fobs under a password: PBKDF2-HMAC-SHA1 with 100,000 iterations
// (once per file), AES-128-CBC and HMAC-SHA1 per fob.
func BenchmarkPSKCPassword100k(b *testing.B) {
	o := ExportOptions{Password: []byte("benchmark"), Iterations: 100_000, Legacy: true}
	benchRead(b, benchFile(b, "password-100k.pskc", 100_000, o), 100_000, Keys{Password: password("benchmark", nil)})
}

// 100,000 fobs as OATH CSV, for comparison.
func BenchmarkOATHCSV100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "oath.csv")
	f, _ := os.Create(path)
	if err := WriteOATHCSV(f, Synthetic(100_000)); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(path)
		rd, _ := NewReader("bench.csv", f, OATHCSV, Keys{})
		for {
			if _, err := rd.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "fobs/s")
}

// Writing, for the export side.
func BenchmarkWritePSKCPassword100k(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := WritePSKC(io.Discard, Synthetic(100_000), ExportOptions{Password: []byte("x"), Iterations: 100_000, Legacy: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "fobs/s")
}
