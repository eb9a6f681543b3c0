// Command gen writes a synthetic seed file of any size, for measuring
// keydesk import: go run ./seedfile/internal/gen -n 1000000 -o big.pskc
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/keydesk/keydesk/seedfile"
)

func main() {
	n := flag.Int("n", 100000, "number of fobs")
	out := flag.String("o", "synthetic.pskc", "output file")
	format := flag.String("format", "pskc", "pskc or oath-csv")
	password := flag.String("password", "", "encrypt the PSKC under this password (test files only)")
	iter := flag.Int("iter", 100000, "PBKDF2 iterations with -password")
	legacy := flag.Bool("legacy", true, "AES-128-CBC + HMAC-SHA1 (else AES-256-CBC + HMAC-SHA256)")
	flag.Parse()
	if err := run(*n, *out, *format, *password, *iter, *legacy); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(n int, out, format, password string, iter int, legacy bool) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	switch format {
	case "pskc":
		err = seedfile.WritePSKC(w, seedfile.Synthetic(n), seedfile.ExportOptions{Password: []byte(password), Iterations: iter, Legacy: legacy})
	case "oath-csv":
		err = seedfile.WriteOATHCSV(w, seedfile.Synthetic(n))
	default:
		err = fmt.Errorf("unknown format %q", format)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
