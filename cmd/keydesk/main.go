// Command keydesk is the help desk's tool for second factors: OTP fobs
// imported from vendor seed files, U2F/FIDO2 security keys, phone apps,
// bypass codes, and the server that checks them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitFail  = 1 // refused, denied, bad input
	exitUsage = 2
)

// version is set at build time (make build: -ldflags "-X main.version=...");
// a plain go build reports the module's version, or "devel".
var version = ""

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its IO passed in, so tests drive the whole CLI.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdin, stdout, stderr)
	args = interspersed(app, args)
	err := app.RunContext(ctx, args)
	return exitCode(err, jsonAsked(args), stdout, stderr)
}

// jsonAsked reports --json among the flags, for errors that come before
// any command has parsed them.
func jsonAsked(args []string) bool {
	for _, a := range args[1:] {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true":
			return true
		}
	}
	return false
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "keydesk",
		Usage:   "hand out and check second factors at the help desk",
		Version: buildVersion(),
		Description: "keydesk keeps an inventory of OTP fobs, security keys and phone apps, hands them to\n" +
			"users, checks their codes, and serves applications and VPNs (keydesk serve).\n" +
			"Start with keydesk init. Exit status: 0 success or allow, 1 refused or failed, 2 usage error.",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// The help flag by hand: urfave/cli adds it only when it adds its
		// own help command, which helpCommand replaces.
		Flags: append(globalFlags(), cli.HelpFlag),
		Commands: []*cli.Command{
			initCommand(), importCommand(), exportCommand(), batchCommand(), userCommand(), fobCommand(), verifyCommand(), bypassCommand(), phoneCommand(),
			keyCommand(), mdsCommand(), softkeyCommand(), auditCommand(), logCommand(), reportCommand(), rekeyCommand(), migrateCommand(), directoryCommand(), serveCommand(), adminCommand(), appCommand(),
			completionCommand(), manCommand(), helpCommand(),
		},
		EnableBashCompletion: true,
		// Errors are printed once, by exitCode, with their exit status.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, c := range app.Commands {
		setUsageErrors(c, "keydesk")
	}
	app.OnUsageError = onUsageError
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return usagef("no command %q; see keydesk help", c.Args().First())
		}
		cli.ShowAppHelp(c)
		return usageError{fmt.Errorf("a command is needed")}
	}
	return app
}

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }

// setUsageErrors makes every command report flag errors as usage errors,
// and makes a group of commands refuse a subcommand it does not have,
// naming the command's whole path in the hint.
func setUsageErrors(c *cli.Command, parent string) {
	path := parent + " " + c.Name
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = func(ctx *cli.Context) error {
			if ctx.Args().Present() {
				return usagef("%s has no subcommand %q; see %s --help", path, ctx.Args().First(), path)
			}
			cli.ShowSubcommandHelp(ctx)
			return usagef("%s needs a subcommand", path)
		}
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s, path)
	}
}

// commandPath is "keydesk user add" for the command c runs.
func commandPath(c *cli.Context) string {
	var names []string
	lineage := c.Lineage()
	// The last context is the root's, whose command is the app itself.
	for _, ctx := range lineage[:len(lineage)-1] {
		if ctx.Command == nil || ctx.Command.Name == "" || ctx.Command.Name == c.App.Name {
			continue
		}
		if n := len(names); n == 0 || names[n-1] != ctx.Command.Name {
			names = append(names, ctx.Command.Name)
		}
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return strings.Join(append([]string{"keydesk"}, names...), " ")
}

// helpCommand is `keydesk help [COMMAND...]`: the same page as
// `keydesk COMMAND... --help`, subcommands listed. (urfave/cli's own help
// command shows a group of commands without its subcommands.)
func helpCommand() *cli.Command {
	return &cli.Command{
		Name: "help", Aliases: []string{"h"}, Usage: "show the commands, or a command's help (keydesk help fob assign)",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			if !c.Args().Present() {
				return cli.ShowAppHelp(c)
			}
			args := append(append([]string{c.App.Name}, c.Args().Slice()...), "--help")
			return newApp(c.App.Reader, c.App.Writer, c.App.ErrWriter).RunContext(c.Context, args)
		},
	}
}
