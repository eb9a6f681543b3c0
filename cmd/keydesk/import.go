package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/seedfile"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import vendor seed files (PSKC, OATH CSV, YubiKey log, otpauth URIs), all or nothing",
		ArgsUsage: "FILE...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "auto", Usage: "auto, pskc, oath-csv, yubico-csv or otpauth"},
			&cli.StringFlag{Name: "password-file", Usage: "`FILE` holding the password of an encrypted PSKC file (asked for on a terminal otherwise)"},
			&cli.StringFlag{Name: "psk-file", Usage: "`FILE` holding the pre-shared key of an encrypted PSKC file, in hex or raw"},
			&cli.StringFlag{Name: "batch", Usage: "batch `NAME` (default: the file name)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "check everything, store nothing"},
			&cli.BoolFlag{Name: "skip-existing", Usage: "import only the serials not yet stored, instead of refusing the file"},
			jsonFlag,
		},
		Action: withSession(importAction),
	}
}

func importAction(c *cli.Context, s *session) error {
	if c.NArg() == 0 {
		return usagef("import needs at least one FILE")
	}
	// An import streams, so what it holds is garbage soon after; a soft
	// limit keeps the collector from letting the heap double on a file of
	// a million fobs. GOMEMLIMIT, if set, wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(importMemoryLimit)
	}
	format, err := seedfile.ParseFormat(c.String("format"))
	if err != nil {
		return usageError{err}
	}
	keys, err := seedKeys(c)
	if err != nil {
		return err
	}
	// The clerk at the console holds the master key: an owner, who may
	// add the users a file names.
	req := desk.ImportRequest{Format: format, Keys: keys, Batch: c.String("batch"),
		DryRun: c.Bool("dry-run"), SkipExisting: c.Bool("skip-existing"), MayAddUsers: true}
	for _, name := range c.Args().Slice() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		req.Files = append(req.Files, desk.SeedFile{Name: name, R: withProgress(c, f)})
	}
	res, err := s.desk.Import(c.Context, req)
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, res)
	}
	for _, b := range res.Batches {
		say(c, "%s", importSummary(res.DryRun, b))
	}
	return nil
}

// importMemoryLimit is the Go heap an import aims to stay within.
const importMemoryLimit = 40 << 20

func importSummary(dry bool, b desk.BatchResult) string {
	var kinds []string
	for k, n := range b.ByKind {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	verb := "imported"
	if dry {
		verb = "dry run: would import"
	}
	line := fmt.Sprintf("%s %d fob(s) from %s (%s", verb, b.Imported, b.File, b.Format)
	if b.Vendor != "" {
		line += ", " + b.Vendor
	}
	line += ")"
	if len(kinds) > 0 {
		line += ": " + strings.Join(kinds, ", ")
	}
	line += fmt.Sprintf(", into batch %s", b.Batch)
	if len(b.NewUsers) > 0 {
		line += fmt.Sprintf("; %d new user(s)", len(b.NewUsers))
	}
	if len(b.Existing) > 0 {
		line += fmt.Sprintf("; skipped %d already stored", len(b.Existing))
	}
	if len(b.Skipped) > 0 {
		why := map[string]int{}
		for _, sk := range b.Skipped {
			why[sk.Reason]++
		}
		var parts []string
		for r, n := range why {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(parts)
		line += fmt.Sprintf("; skipped %d row(s): %s", len(b.Skipped), strings.Join(parts, ", "))
	}
	return line
}

// seedKeys reads the pre-shared key and the password the flags name; a
// password is asked for on a terminal only if a file needs one.
func seedKeys(c *cli.Context) (seedfile.Keys, error) {
	var k seedfile.Keys
	if p := c.String("psk-file"); p != "" {
		psk, err := readPSK(p)
		if err != nil {
			return k, err
		}
		k.PSK = psk
	}
	if p := c.String("password-file"); p != "" {
		k.Password = func() ([]byte, error) { return readPassword(p) }
		return k, nil
	}
	k.Password = func() ([]byte, error) {
		return promptSecret(c, "Password of the seed file: ", "the file is encrypted with a password: give it with --password-file")
	}
	return k, nil
}

// readPSK accepts a key file in hex (16, 24 or 32 bytes once decoded) or
// the raw key bytes.
func readPSK(path string) ([]byte, error) {
	raw, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	text := strings.Join(strings.Fields(string(raw)), "")
	if k, err := hex.DecodeString(text); err == nil && validKeyLen(len(k)) {
		return k, nil
	}
	if validKeyLen(len(raw)) {
		return raw, nil
	}
	return nil, fmt.Errorf("%s: not an AES key: want 16, 24 or 32 bytes, raw or in hex", path)
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// readPassword reads a password file; one trailing newline is not part of
// the password.
func readPassword(path string) ([]byte, error) {
	raw, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	raw = []byte(strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r"))
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: the password is empty", path)
	}
	return raw, nil
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, err
	}
	if len(raw) > 4096 {
		return nil, fmt.Errorf("%s: larger than a key or password file can be", path)
	}
	return raw, nil
}

// withProgress shows a progress bar on stderr while f is read, when stderr
// is a terminal.
func withProgress(c *cli.Context, f *os.File) io.Reader {
	out, ok := c.App.ErrWriter.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return f
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return f
	}
	bar := progressbar.NewOptions64(fi.Size(),
		progressbar.OptionSetWriter(out), progressbar.OptionSetDescription(f.Name()),
		progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
	r := progressbar.NewReader(f, bar)
	return &r
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write stored fobs with their seeds to a file another system can import",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "pskc", Usage: "pskc or oath-csv"},
			&cli.StringFlag{Name: "batch", Usage: "only the fobs of batch `NAME`"},
			&cli.StringFlag{Name: "psk-file", Usage: "encrypt under the pre-shared key in `FILE` (hex or raw; 32 bytes, 16 with --legacy)"},
			&cli.StringFlag{Name: "password-file", Usage: "encrypt under a key derived (PBKDF2) from the password in `FILE`"},
			&cli.BoolFlag{Name: "legacy", Usage: "AES-128-CBC with HMAC-SHA1, for older PSKC readers (default AES-256-CBC, HMAC-SHA256)"},
			&cli.BoolFlag{Name: "plain", Usage: "write the seeds unencrypted (oath-csv always is)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (created with mode 0600) instead of standard output"},
			jsonFlag,
		},
		Action: withSession(exportAction),
	}
}

func exportAction(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	var o seedfile.ExportOptions
	var err error
	if p := c.String("psk-file"); p != "" {
		if o.PSK, err = readPSK(p); err != nil {
			return err
		}
	}
	if p := c.String("password-file"); p != "" {
		if o.Password, err = readPassword(p); err != nil {
			return err
		}
	}
	o.Legacy = c.Bool("legacy")
	encrypted := o.PSK != nil || o.Password != nil
	format := c.String("format")
	switch {
	case format != "pskc" && format != "oath-csv":
		return usagef("--format must be pskc or oath-csv")
	case o.PSK != nil && o.Password != nil:
		return usagef("give --psk-file or --password-file, not both")
	case format == "oath-csv" && encrypted:
		return usagef("OATH CSV cannot be encrypted; use --format pskc with --psk-file or --password-file")
	case !encrypted && !c.Bool("plain"):
		return usagef("an export holds every seed: encrypt it (--psk-file or --password-file), or say --plain to write them in the clear")
	}
	req := desk.ExportRequest{Filter: inventory.FobFilter{Batch: c.String("batch")}, Format: seedfile.Format(format), Options: o, To: "standard output"}
	var res desk.Exported
	if p := c.String("output"); p != "" {
		req.To = p
		err = writeFileAtomic(p, func(w io.Writer) error {
			res, err = s.desk.Export(c.Context, w, req)
			return err
		})
	} else {
		if wantJSON(c) {
			return usagef("export --json needs --output FILE: without it the seed file itself is what goes to standard output")
		}
		res, err = s.desk.Export(c.Context, c.App.Writer, req)
	}
	if err != nil {
		return err
	}
	if wantJSON(c) {
		return printJSON(c, res)
	}
	note(c, "exported %s", res)
	return nil
}

// writeFileAtomic writes a new file at path, mode 0600, as write fills it:
// into a temporary file beside it, closed and checked, then renamed into
// place. On any error the temporary file is removed, so a failed export
// never leaves a partial seed file, and a file already at path is left
// alone.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists; keydesk does not overwrite a file with seeds in it", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	// Link, not rename: link refuses a file that appeared at path since
	// the check above, where rename would replace it.
	if err = os.Link(f.Name(), path); err != nil {
		return err
	}
	return os.Remove(f.Name())
}
