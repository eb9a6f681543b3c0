package desk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/seedfile"
)

// ExportRequest says which fobs to write out, and how.
type ExportRequest struct {
	Filter  inventory.FobFilter
	Format  seedfile.Format // seedfile.PSKC or seedfile.OATHCSV
	Options seedfile.ExportOptions
	To      string // where the file goes, for the audit entry ("stdout", a path)
}

// Exported says what an export wrote.
type Exported struct {
	Fobs      int             `json:"fobs"`
	Format    seedfile.Format `json:"format"`
	Batch     string          `json:"batch,omitempty"`
	Encrypted bool            `json:"encrypted"`
}

func (e Exported) String() string {
	s := fmt.Sprintf("%d fobs as %s", e.Fobs, e.Format)
	if e.Batch != "" {
		s += " from batch " + e.Batch
	}
	if !e.Encrypted {
		s += ", unencrypted"
	}
	return s
}

var errStop = errors.New("stop")

// Export writes the fobs a filter selects, seeds and all, to w in a format
// another system imports, and records in the audit log that the seeds were
// read out (also when writing failed part way: seeds may have left). The
// caller makes w safe to lose: a temporary file renamed into place once
// Export returns nil.
func (d *Desk) Export(ctx context.Context, w io.Writer, r ExportRequest) (Exported, error) {
	out := Exported{Format: r.Format, Batch: r.Filter.Batch, Encrypted: r.Options.PSK != nil || r.Options.Password != nil}
	toks := func(yield func(fob.Token, error) bool) {
		err := d.store.ExportFobs(ctx, r.Filter, func(t fob.Token) error {
			out.Fobs++
			if !yield(t, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(fob.Token{}, err)
		}
	}
	var err error
	switch r.Format {
	case seedfile.PSKC:
		err = seedfile.WritePSKC(w, toks, r.Options)
	case seedfile.OATHCSV:
		if out.Encrypted {
			return Exported{}, errors.New("export: OATH CSV cannot be encrypted; write PSKC")
		}
		err = seedfile.WriteOATHCSV(w, toks)
	default:
		return Exported{}, fmt.Errorf("export: keydesk writes pskc or oath-csv, not %q", r.Format)
	}
	detail := out.String() + " to " + or(r.To, "a stream")
	if err != nil {
		detail += fmt.Sprintf(" (failed after %d: %v)", out.Fobs, err)
	}
	if aerr := d.update(ctx, func(tx *inventory.Tx) error {
		return tx.Audit(d.actor, "export", "inventory", detail)
	}); aerr != nil {
		return Exported{}, errors.Join(err, aerr)
	}
	if err != nil {
		return Exported{}, err
	}
	return out, nil
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
