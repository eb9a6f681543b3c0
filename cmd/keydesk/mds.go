package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/u2f"
	"github.com/keydesk/keydesk/verify"
)

func mdsCommand() *cli.Command {
	return &cli.Command{
		Name:  "mds",
		Usage: "the FIDO Metadata Service: import a BLOB, show what it says of a key model",
		Description: "A BLOB is fetched elsewhere (https://mds3.fidoalliance.org/, a JWT) and imported here: keydesk\n" +
			"works offline. Its signature must chain to the FIDO Alliance's roots built into keydesk, or to\n" +
			"--root; it serves until its nextUpdate, and then registrations wait for a newer one. It names\n" +
			"key models, and refuses those reported revoked or compromised.",
		Subcommands: []*cli.Command{
			{
				Name: "import", Usage: "check a metadata BLOB and keep it in the inventory", ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "root", Usage: "`PEM` file of the root to check the BLOB against instead of FIDO's (a test or private service)"},
					jsonFlag,
				},
				Action: withSession(mdsImport),
			},
			{Name: "show", Usage: "what the metadata imported says of a key model", ArgsUsage: "AAGUID", Flags: []cli.Flag{jsonFlag}, Action: withSession(mdsShow)},
		},
	}
}

// maxBlobFile bounds what mds import reads: verify's bound on a BLOB,
// and one byte to tell it was passed.
const maxBlobFile = 32<<20 + 1

func readBounded(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) >= limit {
		return nil, fmt.Errorf("%s: larger than %d bytes, so not %s", path, limit-1, what)
	}
	return b, nil
}

func mdsImport(c *cli.Context, s *session) error {
	a, err := args(c, "FILE")
	if err != nil {
		return err
	}
	blob, err := readBounded(a[0], maxBlobFile, "a metadata BLOB")
	if err != nil {
		return err
	}
	var root []byte
	if p := c.String("root"); p != "" {
		if root, err = readBounded(p, 1<<20, "a PEM root"); err != nil {
			return err
		}
	}
	imp, err := s.desk.ImportMDS(c.Context, blob, root)
	if err != nil {
		return err
	}
	for _, w := range imp.Warnings {
		note(c, "warning: %s", w)
	}
	b := imp.Blob
	return answer(c, map[string]any{"serial": b.Serial, "next_update": b.NextUpdate.Format(time.DateOnly), "models": b.Models,
		"signer": b.Signer, "replaced": imp.Previous, "warnings": len(imp.Warnings)}, func() {
		say(c, "imported FIDO metadata BLOB no %d: %s, next update %s", b.Serial, plural(b.Models, "key model", "key models"), b.NextUpdate.Format(time.DateOnly))
		say(c, "signed by:   %s", b.Signer)
		if imp.Previous != 0 {
			say(c, "replaces:    BLOB no %d", imp.Previous)
		}
	})
}

// mdsEntryView is what mds show prints.
type mdsEntryView struct {
	AAGUID      string            `json:"aaguid"`
	Model       string            `json:"model"`
	Status      string            `json:"status"`
	Refused     string            `json:"refused,omitempty"` // why registrations of it are refused
	Reports     []mdsStatusReport `json:"status_reports"`
	Roots       int               `json:"attestation_roots"`
	Partial     bool              `json:"partial,omitempty"`
	BlobSerial  int               `json:"blob_serial"`
	BlobExpires string            `json:"blob_next_update"`
}

type mdsStatusReport struct {
	Status string `json:"status"`
	Since  string `json:"effective_date,omitempty"`
}

func mdsShow(c *cli.Context, s *session) error {
	a, err := args(c, "AAGUID")
	if err != nil {
		return err
	}
	aaguid, err := u2f.ParseAAGUID(a[0])
	if err != nil {
		return usageError{err}
	}
	m, err := s.desk.MDS(c.Context)
	switch {
	case err != nil:
		return err
	case m == nil:
		return fmt.Errorf("no FIDO metadata imported: %w; import a BLOB with keydesk mds import FILE", inventory.ErrNotFound)
	}
	e, ok := m.Entry(aaguid)
	if !ok {
		return fmt.Errorf("BLOB no %d names no model %s: %w", m.Serial, aaguid, inventory.ErrNotFound)
	}
	v := mdsEntryView{AAGUID: aaguid.String(), Model: e.Description, Status: e.Status, Roots: len(e.AttestationRoots), Partial: e.Partial,
		BlobSerial: m.Serial, BlobExpires: m.NextUpdate.Format(time.DateOnly), Reports: []mdsStatusReport{}}
	for _, r := range e.StatusReports {
		sr := mdsStatusReport{Status: r.Status}
		if !r.EffectiveDate.IsZero() {
			sr.Since = r.EffectiveDate.Format(time.DateOnly)
		}
		v.Reports = append(v.Reports, sr)
	}
	if err := m.Refuse(aaguid); err != nil {
		if !errors.Is(err, verify.ErrModelRevoked) {
			return err
		}
		v.Refused = err.Error()
	}
	return answer(c, v, func() {
		say(c, "model:       %s", or(v.Model, "unnamed"))
		say(c, "AAGUID:      %s", v.AAGUID)
		say(c, "status:      %s", v.Status)
		for _, r := range v.Reports {
			say(c, "  %s  %s", or(r.Since, "(no date)"), r.Status)
		}
		if v.Refused != "" {
			say(c, "registration: refused: %s", v.Refused)
		} else {
			say(c, "registration: allowed")
		}
		say(c, "attestation roots: %d%s", v.Roots, map[bool]string{true: " (the entry did not read whole; its roots are ignored)"}[v.Partial])
		say(c, "from BLOB no %d, next update %s", v.BlobSerial, v.BlobExpires)
	})
}
