package main

// The rules for what keydesk prints, all in this file: human text on
// stdout, diagnostics on stderr, with --json one JSON document per answer
// on stdout instead of the text (errors too), prompts only on a terminal,
// and never a secret but the one a command exists to show once.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/seedfile"
	"github.com/keydesk/keydesk/verify"
)

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print one JSON document for scripts instead of text"}

func wantJSON(c *cli.Context) bool {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("json") && ctx.Bool("json") {
			return true
		}
	}
	return false
}

// printJSON prints v as the answer's one JSON document.
func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonList writes a JSON array one element at a time, so that a listing of
// 100,000 fobs stays one document without being held in memory.
type jsonList struct {
	w   *bufio.Writer
	n   int
	err error
}

func startList(c *cli.Context) *jsonList {
	l := &jsonList{w: bufio.NewWriter(c.App.Writer)}
	l.w.WriteString("[")
	return l
}

func (l *jsonList) add(v any) error {
	if l.err != nil {
		return l.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		l.err = err
		return err
	}
	if l.n > 0 {
		l.w.WriteString(",")
	}
	l.n++
	l.w.WriteString("\n  ")
	_, l.err = l.w.Write(b)
	return l.err
}

func (l *jsonList) end() error {
	if l.n > 0 {
		l.w.WriteString("\n")
	}
	l.w.WriteString("]\n")
	if err := l.w.Flush(); l.err == nil {
		l.err = err
	}
	return l.err
}

// printList prints a listing: a JSON array, or the table rows row makes.
func printList[T any](c *cli.Context, items []T, header []string, row func(T) []string) error {
	if wantJSON(c) {
		if items == nil {
			items = []T{}
		}
		return printJSON(c, items)
	}
	t := newTable(c.App.Writer, header...)
	for _, it := range items {
		t.row(row(it)...)
	}
	t.flush()
	return nil
}

// printCSV prints a table as CSV (RFC 4180, CRLF line ends) for a
// spreadsheet: a header row, then every field through seedfile.CSVField,
// which quotes what must be and defuses what a spreadsheet would run.
func printCSV(c *cli.Context, header []string, rows [][]string) error {
	w := bufio.NewWriter(c.App.Writer)
	line := func(cells []string) {
		for i, cell := range cells {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(seedfile.CSVField(cell))
		}
		w.WriteString("\r\n")
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	return w.Flush()
}

// printTable prints rows under a header, aligned.
func printTable(c *cli.Context, header []string, rows [][]string) {
	t := newTable(c.App.Writer, header...)
	for _, r := range rows {
		t.row(r...)
	}
	t.flush()
}

// say prints a line of human text on stdout; nothing with --json.
func say(c *cli.Context, format string, args ...any) {
	if wantJSON(c) {
		return
	}
	fmt.Fprintf(c.App.Writer, format+"\n", args...)
}

// note prints a diagnostic on stderr.
func note(c *cli.Context, format string, args ...any) {
	fmt.Fprintf(c.App.ErrWriter, "keydesk: "+format+"\n", args...)
}

// done reports a change made: a sentence, or {"ok":true,"message":...}
// with the fields given, so that every command answers scripts in JSON.
func done(c *cli.Context, msg string, fields ...any) error {
	if !wantJSON(c) {
		fmt.Fprintln(c.App.Writer, msg)
		return nil
	}
	out := map[string]any{"ok": true, "message": msg}
	for i := 0; i+1 < len(fields); i += 2 {
		out[fields[i].(string)] = fields[i+1]
	}
	return printJSON(c, out)
}

// answer prints v as JSON, or runs text to print it as sentences.
func answer(c *cli.Context, v any, text func()) error {
	if wantJSON(c) {
		return printJSON(c, v)
	}
	text()
	return nil
}

// printDecision prints an allow or a deny the same way for codes and
// keys: "allow: ..." or "deny: <reason>", exit 1 on a deny.
func printDecision(c *cli.Context, d verify.Decision) error {
	v := d.View()
	if wantJSON(c) {
		if err := printJSON(c, v); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.App.Writer, "%s: %s\n", v.Result, v.Reason)
	}
	if !d.Allow {
		return silentFail{}
	}
	return nil
}

// table prints rows under a header, aligned.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { t.tw.Flush() }

// timeLayout is the one way text shows a moment: local time with its zone.
// JSON carries RFC 3339, and so does CSV, for a spreadsheet to read.
const timeLayout = "2006-01-02 15:04 MST"

// rfc3339 is how CSV shows a moment: RFC 3339 in UTC; empty for none.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(timeLayout)
}

func itoa(n int) string { return fmt.Sprint(n) }

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// plural is "1 use" or "3 uses".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Prompts: only on a terminal; a script gets an error that names the flag
// or the pipe to use instead.

// terminal is standard input when it is a terminal.
func terminal(c *cli.Context) (*os.File, bool) {
	in, ok := c.App.Reader.(*os.File)
	return in, ok && term.IsTerminal(int(in.Fd()))
}

// promptSecret asks for a secret on the terminal without echoing it.
func promptSecret(c *cli.Context, prompt, instead string) ([]byte, error) {
	in, ok := terminal(c)
	if !ok {
		return nil, fmt.Errorf("%s (standard input is not a terminal to ask on)", instead)
	}
	restore, err := noEcho(int(in.Fd()))
	if err != nil {
		fmt.Fprint(c.App.ErrWriter, prompt)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		return b, err
	}
	defer restore()
	fmt.Fprint(c.App.ErrWriter, prompt)
	line, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil && (err != io.EOF || line == "") {
		return nil, fmt.Errorf("reading from the terminal: %w", err)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// promptLine asks for one line on a terminal, or reads one line from a
// pipe: codes come either way, so that scripts keep them out of the
// process list.
func promptLine(c *cli.Context, prompt string) (string, error) {
	if _, ok := terminal(c); ok {
		fmt.Fprint(c.App.ErrWriter, prompt)
	}
	line, err := bufio.NewReader(io.LimitReader(c.App.Reader, 1024)).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" && err != nil && err != io.EOF {
		return "", err
	}
	return line, nil
}

// confirm asks a yes/no question on a terminal; without one the answer
// is no, and the caller names the flag that says yes.
func confirm(c *cli.Context, question string) bool {
	if _, ok := terminal(c); !ok {
		return false
	}
	line, _ := promptLine(c, question+" [y/N] ")
	return strings.EqualFold(line, "y") || strings.EqualFold(line, "yes")
}

// Errors.

// usageError is an error in how keydesk was called: exit status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// silentFail is a failure already explained on stdout (a denial): exit 1
// with nothing more on stderr.
type silentFail struct{}

func (silentFail) Error() string { return "denied" }

// errorCode is a stable word for scripts: what kind of error it was.
func errorCode(err error) string {
	var ue usageError
	var pe *seedfile.ParseError
	var ke *keyError
	switch {
	case errors.As(err, &ue):
		return "usage"
	case errors.As(err, &ke):
		return ke.code
	case errors.Is(err, errNoInventory):
		return "no_inventory"
	case errors.Is(err, inventory.ErrNotFound):
		return "not_found"
	case errors.Is(err, inventory.ErrExists):
		return "exists"
	case errors.Is(err, inventory.ErrWrongKey), errors.Is(err, inventory.ErrNoMasterKey):
		return "master_key"
	case errors.Is(err, inventory.ErrReadOnly):
		return "read_only"
	case errors.As(err, &pe):
		return "bad_file"
	case errors.Is(err, verify.ErrRefused):
		return "refused"
	}
	return "failed"
}

// exitCode prints err, if any (on stderr, and as the JSON document on
// stdout with --json), and maps it to the contract's status.
func exitCode(err error, asJSON bool, stdout, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.As(err, &silentFail{}) {
		return exitFail
	}
	fmt.Fprintf(stderr, "keydesk: %v\n", err)
	if asJSON {
		var body struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		body.Error.Code, body.Error.Message = errorCode(err), err.Error()
		b, _ := json.MarshalIndent(body, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if errors.As(err, &usageError{}) {
		return exitUsage
	}
	return exitFail
}
