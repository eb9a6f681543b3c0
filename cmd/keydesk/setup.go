package main

// Setting keydesk up: a new inventory, shell completion, the man page.

import (
	"fmt"

	"github.com/keydesk/keydesk/inventory"
	"github.com/urfave/cli/v2"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a new inventory and its master key",
		Description: "Creates the inventory (--db) and a new 32-byte master key (--master-key, mode 0600) that\n" +
			"seals every secret in it. Keep a copy of the key apart from the database. init refuses\n" +
			"to touch an inventory or a key file that exists.",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			s, fp, err := create(c)
			if err != nil {
				return err
			}
			defer s.Close()
			db, key := paths(c)
			db = inventory.Where(db)
			note(c, "keep a copy of the master key apart from the database: without it the inventory cannot be opened")
			return done(c, fmt.Sprintf("new inventory %s, sealed under the master key %s (fingerprint %s)", db, key, fp),
				"inventory", db, "master_key", key, "fingerprint", fp)
		},
	}
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: "bash:  source <(keydesk completion bash)       (or put it in /etc/bash_completion.d/keydesk)\n" +
			"zsh:   keydesk completion zsh > \"${fpath[1]}/_keydesk\"\n" +
			"fish:  keydesk completion fish > ~/.config/fish/completions/keydesk.fish",
		Action: func(c *cli.Context) error {
			a, err := args(c, "SHELL")
			if err != nil {
				return err
			}
			switch a[0] {
			case "bash":
				_, err = fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				var script string
				if script, err = c.App.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(c.App.Writer, script)
				}
			default:
				return usagef("no completion for shell %q: bash, zsh or fish", a[0])
			}
			return err
		},
	}
}

// The bash and zsh scripts ask keydesk itself what may follow the words
// typed so far (urfave/cli's --generate-bash-completion), so they stay
// right as commands are added.
const bashCompletion = `# bash completion for keydesk
_keydesk() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == -* ]]; then
		words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$("${COMP_WORDS[0]}" "${COMP_WORDS[@]:1:$COMP_CWORD-1}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _keydesk keydesk
`

const zshCompletion = `#compdef keydesk
# zsh completion for keydesk
_keydesk() {
	local -a candidates
	local IFS=$'\n'
	if [[ "${words[CURRENT]}" == -* ]]; then
		candidates=($(${words[1]} ${words[2,CURRENT-1]} ${words[CURRENT]} --generate-bash-completion 2>/dev/null))
	else
		candidates=($(${words[1]} ${words[2,CURRENT-1]} --generate-bash-completion 2>/dev/null))
	fi
	_describe 'keydesk' candidates
}
compdef _keydesk keydesk
`

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff), made from the commands themselves",
		Hidden: true,
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			// Section 1, a command, where make install puts it.
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
