package main

import (
	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
)

// migrateCommand moves an inventory to PostgreSQL, where several servers
// can share it, or back into a file.
func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "copy the inventory (--db) into an empty PostgreSQL database (to serve it from several servers), or into a new file",
		Description: `Every row is carried with its id, sealed values and audit MACs: the same
master key opens the copy, and its audit chain verifies as the source's does.
The copy is checked (row counts, audit chain) before keydesk says it is done;
the source is left as it was. Stop keydesk serve on the source first: what it
writes while the copy runs is not carried. Then point --db (KEYDESK_DB) at
the URL. The URL's password can also come from PGPASSWORD or ~/.pgpass.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the target: postgres://USER@HOST/DB?sslmode=verify-full, or the `PATH` of a new SQLite file", Required: true},
			jsonFlag,
		},
		Action: withSession(func(c *cli.Context, s *session) error {
			if _, err := args(c); err != nil {
				return err
			}
			to := c.String("to")
			_, keyPath := paths(c)
			key, err := inventory.ReadMasterKey(keyPath)
			if err != nil {
				return err
			}
			rep, err := inventory.CopyInto(c.Context, s.store, to, key)
			if err != nil {
				return err
			}
			return answer(c, rep, func() {
				t := newTable(c.App.Writer, "TABLE", "ROWS")
				for _, tb := range rep.Tables {
					t.row(tb.Name, itoa(int(tb.Rows)))
				}
				t.flush()
				say(c, "copied %s into %s; the copy opens with the same master key and its audit log verifies (%d entries, chain head %s)",
					rep.From, rep.To, rep.Audit.Entries, rep.Audit.HeadMAC)
				say(c, "serve it with: KEYDESK_DB='%s' keydesk serve (with the URL's password, or PGPASSWORD)", rep.To)
			})
		}),
	}
}
