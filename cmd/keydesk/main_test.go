package main

import (
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keydesk/keydesk/fob"
	"github.com/keydesk/keydesk/internal/testbin"
	"github.com/keydesk/keydesk/internal/teststore"
)

func TestMain(m *testing.M) {
	testscript.Main(storeRun{testbin.Wrap(m)}, map[string]func(){
		"keydesk": func() {
			// KEYDESK_TEST_NOW fixes the inventory's clock, for scripts
			// whose files are good only for a while (MDS BLOBs).
			if v := os.Getenv("KEYDESK_TEST_NOW"); v != "" {
				at, err := time.Parse(time.RFC3339, v)
				if err != nil {
					fmt.Fprintln(os.Stderr, "KEYDESK_TEST_NOW:", err)
					os.Exit(2)
				}
				clockNow = func() time.Time { return at }
			}
			os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// storeRun removes the PostgreSQL cluster of a run on PostgreSQL.
type storeRun struct{ m interface{ Run() int } }

func (r storeRun) Run() int { return teststore.Run(r.m) }

// TestScripts runs the CLI as a clerk types it: each file in
// testdata/script is a session of commands and the output they must give.
// On a run with KEYDESK_TEST_STORE=postgres, each script's inventory is a
// database of its own (KEYDESK_DB), and [postgres] is true for scripts
// about the SQLite file to skip.
func TestScripts(t *testing.T) {
	// On PostgreSQL, each script has two databases: its inventory, and
	// an empty one to migrate into (TARGET_DB).
	dbs := map[string][2]string{}
	if teststore.Postgres() {
		files, _ := filepath.Glob("testdata/script/*.txtar")
		for _, f := range files {
			dbs["script-"+strings.TrimSuffix(filepath.Base(f), ".txtar")] = [2]string{teststore.Path(t, "", ""), teststore.Path(t, "", "")}
		}
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Condition: func(cond string) (bool, error) {
			if cond == "postgres" {
				return teststore.Postgres(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			if urls, ok := dbs[filepath.Base(env.WorkDir)]; ok {
				env.Setenv("KEYDESK_DB", urls[0])
				env.Setenv("TARGET_DB", urls[1])
				u, err := url.Parse(urls[0])
				if err != nil {
					return err
				}
				pw, _ := u.User.Password()
				env.Setenv("DB_PASSWORD", pw)
			}
			env.Setenv("XDG_DATA_HOME", env.WorkDir+"/data")
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("HOME", env.WorkDir)
			for name, dir := range map[string]string{"SEEDS": "../../testdata/seedfiles", "VECTORS": "../../testdata/vectors", "MDS": "../../testdata/mds"} {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				env.Setenv(name, abs)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"yubiotp": yubiOTPCmd,
			"totp":    totpCmd,
			"jsondoc": jsonDocCmd,
		},
		RequireExplicitExec: true,
	})
}

// yubiOTPCmd prints the OTP a YubiKey would type:
// yubiotp AESKEY-HEX PUBLIC-ID PRIVATE-ID-HEX USE-COUNTER SESSION-USE
func yubiOTPCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 5 {
		ts.Fatalf("usage: yubiotp AESKEY PUBLIC-ID PRIVATE-ID USE SESSION")
	}
	key, err := hex.DecodeString(args[0])
	ts.Check(err)
	priv, err := hex.DecodeString(args[2])
	ts.Check(err)
	use, err := strconv.ParseUint(args[3], 10, 15)
	ts.Check(err)
	session, err := strconv.ParseUint(args[4], 10, 8)
	ts.Check(err)
	f := fob.YubicoFields{UseCounter: uint16(use), SessionUse: uint8(session), Timestamp: 0x1234, Random: 0x5678}
	copy(f.PrivateID[:], priv)
	otp, err := fob.SealYubicoOTP(key, args[1], f)
	ts.Check(err)
	ts.Stdout().Write([]byte(otp + "\n"))
}

// totpCmd prints the code a phone app shows now for the key the last
// command printed for typing in ("key: ABCD EFGH ..."): totp
func totpCmd(ts *testscript.TestScript, neg bool, args []string) {
	m := regexp.MustCompile(`key: +([A-Z2-7 ]+)\n`).FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("no key in stdout")
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	ts.Check(err)
	t := fob.Token{Kind: fob.TOTP, Secret: secret}
	t.Normalize()
	ts.Stdout().Write([]byte(t.Code(uint64(t.Step(time.Now()))) + "\n"))
}

// jsonDocCmd checks that the last command's stdout is exactly one JSON
// document (--json's promise), and with an argument that the document has
// that top-level key: jsondoc [KEY]
func jsonDocCmd(ts *testscript.TestScript, neg bool, args []string) {
	out := ts.ReadFile("stdout")
	dec := json.NewDecoder(strings.NewReader(out))
	var doc any
	err := dec.Decode(&doc)
	if err == nil {
		var extra any
		if dec.Decode(&extra) != io.EOF {
			err = errors.New("more than one JSON document")
		}
	}
	if err == nil && len(args) == 1 {
		if m, ok := doc.(map[string]any); !ok || m[args[0]] == nil {
			err = fmt.Errorf("no key %q in the document", args[0])
		}
	}
	if neg != (err != nil) {
		ts.Fatalf("stdout %q: want one JSON document: %v", out, err)
	}
}
