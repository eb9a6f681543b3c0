// Command gen writes a synthetic seed file of any size, and reads one back
// timing it, for measuring keydesk import:
//
//	go run ./seedfile/internal/gen -n 1000000 -o big.pskc
//	go build -o /tmp/gen ./seedfile/internal/gen && /usr/bin/time -v /tmp/gen -read big.pskc
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keydesk/keydesk/seedfile"
)

func main() {
	n := flag.Int("n", 100000, "number of fobs")
	out := flag.String("o", "synthetic.pskc", "output file")
	format := flag.String("format", "pskc", "pskc or oath-csv")
	password := flag.String("password", "", "encrypt the PSKC under this password (test files only)")
	iter := flag.Int("iter", 100000, "PBKDF2 iterations with -password")
	legacy := flag.Bool("legacy", true, "AES-128-CBC + HMAC-SHA1 (else AES-256-CBC + HMAC-SHA256)")
	read := flag.String("read", "", "read this seed file back and report fobs/s instead")
	flag.Parse()
	if *read != "" {
		if err := check(*read, *password); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		return
	}
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

func check(name, password string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	k := seedfile.Keys{Password: func() ([]byte, error) { return []byte(password), nil }}
	rd, err := seedfile.NewReader(name, f, "", k)
	if err != nil {
		return err
	}
	n := 0
	for {
		if _, err := rd.Next(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		n++
	}
	d := time.Since(start)
	fmt.Printf("%d fobs in %v: %.0f fobs/s\n", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	return nil
}
