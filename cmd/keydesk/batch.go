package main

import (
	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/inventory"
)

func batchCommand() *cli.Command {
	return &cli.Command{
		Name:  "batch",
		Usage: "the deliveries of fobs: which file brought how many, when, imported by whom",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list batches, oldest first", Flags: []cli.Flag{jsonFlag}, Action: withSession(batchList)},
		},
	}
}

func batchList(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	batches, err := s.desk.Batches(c.Context)
	if err != nil {
		return err
	}
	return printList(c, batches, []string{"BATCH", "FOBS", "FORMAT", "VENDOR", "FILE", "SHA-256", "IMPORTED", "BY"}, func(b inventory.Batch) []string {
		sum := b.FileSHA256
		if len(sum) > 16 {
			sum = sum[:16] + "…"
		}
		return []string{b.Name, itoa(b.Count), b.Format, b.Vendor, b.FileName, sum, when(b.ImportedAt), b.ImportedBy}
	})
}
