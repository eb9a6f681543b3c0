// Command keydesk is the help desk's tool for second factors: OTP fobs
// imported from vendor seed files, U2F security keys, and the verifier.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitFail  = 1 // refused, denied, bad input
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its IO passed in, so tests drive the whole CLI.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	return exitCode(err, stderr)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "keydesk",
		Usage:     "hand out and check second factors at the help desk",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     globalFlags(),
		Commands: []*cli.Command{
			importCommand(), exportCommand(), batchCommand(), userCommand(), fobCommand(), verifyCommand(), bypassCommand(), auditCommand(), rekeyCommand(),
			keyCommand(), softkeyCommand(), serveCommand(), adminCommand(), appCommand(),
		},
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		// Errors are printed once, by exitCode, with their exit status.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, c := range app.Commands {
		setUsageErrors(c)
	}
	app.OnUsageError = onUsageError
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return usagef("no command %q; see keydesk --help", c.Args().First())
		}
		return usagef("a command is needed; see keydesk --help")
	}
	return app
}

// usageError is an error in how keydesk was called: exit status 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }

// setUsageErrors makes every command report flag errors as usage errors,
// and makes a group of commands refuse a subcommand it does not have.
func setUsageErrors(c *cli.Command) {
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = func(ctx *cli.Context) error {
			if ctx.Args().Present() {
				return usagef("%s has no subcommand %q; see keydesk %s --help", c.Name, ctx.Args().First(), c.Name)
			}
			return usagef("%s needs a subcommand; see keydesk %s --help", c.Name, c.Name)
		}
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s)
	}
}

// exitCode prints err, if any, and maps it to the contract's status.
func exitCode(err error, stderr io.Writer) (code int) {
	if err == nil {
		return exitOK
	}
	var silent silentFail
	if errors.As(err, &silent) {
		return exitFail
	}
	fmt.Fprintf(stderr, "keydesk: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

// silentFail is a failure already explained on stdout (a denial): exit 1
// with nothing more on stderr.
type silentFail struct{}

func (silentFail) Error() string { return "denied" }
