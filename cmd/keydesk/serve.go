package main

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keydesk/keydesk/directory"
	"github.com/keydesk/keydesk/server"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "answer applications over HTTP (and RADIUS), and the admin API",
		Description: "Runs until SIGTERM or SIGINT, then finishes the requests in flight and exits.\n" +
			"Applications and administrators are added with keydesk app add and keydesk admin add.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "JSON config `FILE`; flags given override it"},
			&cli.StringFlag{Name: "http", Usage: "HTTP listen `ADDR` (default " + server.DefaultHTTP + ")"},
			&cli.StringFlag{Name: "radius", Usage: "RADIUS UDP listen `ADDR`, such as 0.0.0.0:1812 (none unless given)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM) for the HTTP API"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key `FILE` (PEM) for the HTTP API"},
			&cli.Float64Flag{Name: "user-rate", DefaultText: fmt.Sprint(defaults.UserRate),
				Usage: "passcode attempts a second per user name (0 or unset: the default; negative: no limit)"},
			&cli.Float64Flag{Name: "client-rate", DefaultText: fmt.Sprint(defaults.ClientRate),
				Usage: "requests (and RADIUS packets) a second per source address (0 or unset: the default; negative: no limit)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: withSession(serve),
	}
}

// defaults is the server's config with nothing set, for the flags' help.
var defaults = func() server.Config {
	var c server.Config
	c.Default()
	return c
}()

func serve(c *cli.Context, s *session) error {
	if _, err := args(c); err != nil {
		return err
	}
	cfg, err := serveConfig(c)
	if err != nil {
		return err
	}
	deps := server.NewDeps(s.store, s.ver)
	if cfg.Directory != nil {
		dir, err := directory.New(*cfg.Directory)
		if err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		defer dir.Close()
		deps.Directory = dir
	}
	srv, err := server.New(cfg, deps)
	if err != nil {
		return err
	}
	cfg = srv.Config()
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	defer ln.Close()
	var pc net.PacketConn
	if cfg.RADIUS != "" {
		if pc, err = net.ListenPacket("udp", cfg.RADIUS); err != nil {
			return fmt.Errorf("radius: %w", err)
		}
		defer pc.Close()
	}
	// Said only once every listener is bound: a clerk who reads it knows
	// the server is up.
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	note(c, "serving the HTTP API on %s://%s", scheme, ln.Addr())
	if pc != nil {
		note(c, "serving RADIUS on udp %s", pc.LocalAddr())
	}
	if err := srv.Serve(c.Context, ln, pc); err != nil {
		return err
	}
	note(c, "stopped")
	return nil
}

// serveConfig is the config file, if any, with the flags given on top.
func serveConfig(c *cli.Context) (server.Config, error) {
	var cfg server.Config
	if f := c.String("config"); f != "" {
		var err error
		if cfg, err = server.LoadConfig(f); err != nil {
			return cfg, err
		}
	}
	for name, dst := range map[string]*string{"http": &cfg.HTTP, "radius": &cfg.RADIUS, "tls-cert": &cfg.TLSCert, "tls-key": &cfg.TLSKey} {
		if c.IsSet(name) {
			*dst = c.String(name)
		}
	}
	if c.IsSet("user-rate") {
		cfg.UserRate = c.Float64("user-rate")
	}
	if c.IsSet("client-rate") {
		cfg.ClientRate = c.Float64("client-rate")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.String("log-level")))); err != nil {
		return cfg, usagef("--log-level: %v", err)
	}
	cfg.Log = slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}
