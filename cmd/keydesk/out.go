package main

// The rules for what keydesk prints: human text on stdout, diagnostics on
// stderr, JSON instead of text with --json, and never a secret.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func wantJSON(c *cli.Context) bool {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("json") && ctx.Bool("json") {
			return true
		}
	}
	return false
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// say prints a line of human text on stdout.
func say(c *cli.Context, format string, args ...any) {
	fmt.Fprintf(c.App.Writer, format+"\n", args...)
}

// note prints a diagnostic on stderr.
func note(c *cli.Context, format string, args ...any) {
	fmt.Fprintf(c.App.ErrWriter, "keydesk: "+format+"\n", args...)
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

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04")
}

// done reports a change made: a sentence, or {"ok":true,"message":...}
// with --json, so that every command answers scripts in JSON.
func done(c *cli.Context, msg string) error {
	if wantJSON(c) {
		return printJSON(c, map[string]any{"ok": true, "message": msg})
	}
	say(c, "%s", msg)
	return nil
}
