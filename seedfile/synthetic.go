package seedfile

import (
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/keydesk/keydesk/fob"
)

// Synthetic yields n made-up fobs for benchmarks and load tests: serials
// SYN00000001 and up, nine HOTP fobs in ten and one TOTP fob, seeds from a
// fixed-seed generator so every run writes the same file. Feed it to
// [WritePSKC] or [WriteOATHCSV] to make a vendor file of any size. The
// seeds are not secret: never hand these fobs out.
func Synthetic(n int) iter.Seq2[fob.Token, error] {
	return func(yield func(fob.Token, error) bool) {
		rng := rand.NewChaCha8([32]byte{'k', 'e', 'y', 'd', 'e', 's', 'k'})
		for i := 1; i <= n; i++ {
			t := fob.Token{
				Serial:       fmt.Sprintf("SYN%08d", i),
				Kind:         fob.HOTP,
				Secret:       make([]byte, 20),
				Manufacturer: "keydesk synthetic",
			}
			rng.Read(t.Secret)
			if i%10 == 0 {
				t.Kind, t.Period = fob.TOTP, 30
			}
			t.Normalize()
			if !yield(t, nil) {
				return
			}
		}
	}
}
