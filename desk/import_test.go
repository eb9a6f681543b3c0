package desk_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

const (
	boxCSV = "BOX-1,3132333435363738393031323334353637383930,hotp,6,0\nBOX-2,3132333435363738393031323334353637383931,hotp,6,0\n"
	// oneMore is boxCSV with a fob more.
	oneMore = boxCSV + "BOX-3,3132333435363738393031323334353637383932,hotp,6,0\n"
)

func file(name, content string, hashed bool) desk.SeedFile {
	f := desk.SeedFile{Name: name, R: strings.NewReader(content)}
	if hashed {
		h := sha256.Sum256([]byte(content))
		f.SHA256 = hex.EncodeToString(h[:])
	}
	return f
}

func (fx *fixture) batches(t *testing.T) []string {
	t.Helper()
	bs, err := fx.d.Batches(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// The same file twice in one import, by name or by content, is said to be
// so, hashed beforehand or not, and nothing is imported.
func TestImportTheSameFileTwice(t *testing.T) {
	fx := newDesk(t)
	for _, c := range []struct {
		what  string
		files []desk.SeedFile
		words string
	}{
		{"one name twice", []desk.SeedFile{file("f.csv", boxCSV, false), file("f.csv", boxCSV, false)}, "the same file given twice: f.csv and f.csv; nothing imported"},
		{"one name twice, hashed", []desk.SeedFile{file("f.csv", boxCSV, true), file("f.csv", boxCSV, true)}, "the same file given twice: f.csv and f.csv; nothing imported"},
		{"two names, one content", []desk.SeedFile{file("a.csv", boxCSV, true), file("b.csv", boxCSV, false)},
			"the same file given twice: a.csv and b.csv (their content is the same); nothing imported"},
	} {
		fx.refused(t, c.what, func() error {
			_, err := fx.d.Import(t.Context(), desk.ImportRequest{Files: c.files})
			return err
		}, desk.ErrSameFile, c.words)
		if err := fx.d.CheckSeedFiles(t.Context(), c.files); c.files[1].SHA256 != "" && !errors.Is(err, desk.ErrSameFile) {
			t.Errorf("%s: checked beforehand: %v", c.what, err)
		}
	}
	if b := fx.batches(t); len(b) != 0 {
		t.Errorf("batches after refused imports: %v", b)
	}
}

// A file imported before is refused before it is read when its hash is
// known: its password is never asked for.
func TestImportedBeforeIsSaidFirst(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if _, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("box.csv", boxCSV, false)}}); err != nil {
		t.Fatal(err)
	}
	again := file("again.csv", boxCSV, true)
	if err := fx.d.CheckSeedFiles(ctx, []desk.SeedFile{again}); !errors.Is(err, desk.ErrAlreadyImported) || !strings.Contains(err.Error(), `batch "box"`) {
		t.Errorf("checked beforehand: %v", err)
	}
	again = file("again.csv", boxCSV, true)
	again.R = failingReader{t}
	fx.refused(t, "a known hash", func() error {
		_, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{again}})
		return err
	}, desk.ErrAlreadyImported, `again.csv is the file batch "box" brought on 2025-03-14`)

	// A file whose content is not what its hash said is refused.
	lying := file("lying.csv", oneMore, false)
	lying.SHA256 = strings.Repeat("ab", 32)
	fx.refused(t, "a file that changed", func() error {
		_, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{lying}})
		return err
	}, verify.ErrRefused, "lying.csv changed while it was imported")
}

type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("the file was read")
	return 0, errors.New("read")
}

// An import that brings no new fob leaves no batch, and the file can be
// imported later.
func TestImportOfNothingNewLeavesNoBatch(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if _, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("box.csv", boxCSV, false)}}); err != nil {
		t.Fatal(err)
	}
	// The same fobs in a file of another layout (a trailing comment) are
	// all stored already.
	same := boxCSV + "# checked\n"
	var res desk.ImportResult
	fx.act(t, "import nothing new", func() error {
		var err error
		res, err = fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("same.csv", same, true)}, SkipExisting: true})
		return err
	}, "import", "file same.csv", "no new fob in same.csv (oath-csv, sha256 "+sha16(same)+"), 2 already stored skipped; no batch recorded")
	if b := res.Batches[0]; b.Batch != "" || b.Imported != 0 || b.SkippedExisting != 2 {
		t.Errorf("result %+v", b)
	}
	if b := fx.batches(t); len(b) != 1 {
		t.Errorf("batches %v, want box's alone", b)
	}
	if err := fx.d.CheckSeedFiles(ctx, []desk.SeedFile{file("same.csv", same, true)}); err != nil {
		t.Errorf("the file that brought nothing is taken for imported: %v", err)
	}
	res, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("more.csv", oneMore, true)}, SkipExisting: true})
	if err != nil || res.Total() != 1 || res.Batches[0].Batch != "more" {
		t.Errorf("a file with one new fob: %+v %v", res, err)
	}
}

func sha16(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// A file that gives fobs a seed another fob has is refused, naming the
// pairs, unless the request allows it; the allowed pairs are said.
func TestImportSharedSeeds(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if err := fx.d.AddFob(ctx, token("OLD"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	old := hex.EncodeToString(token("OLD").Secret)
	csv := "P-1," + old + ",hotp,6,0\nP-2,3132333435363738393031323334353637383930,hotp,6,0\nP-3,3132333435363738393031323334353637383930,totp,6,30\n"
	fx.refused(t, "shared seeds", func() error {
		_, err := fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("pairs.csv", csv, false)}})
		return err
	}, desk.ErrSharedSeed, "pairs.csv has 2 fob(s) with the seed of another fob: P-1 has the seed of OLD, P-3 has the seed of P-2;", "nothing imported")
	if _, err := fx.s.Fob(ctx, "P-2"); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("a refused import stored P-2: %v", err)
	}
	var res desk.ImportResult
	fx.act(t, "allowed", func() error {
		var err error
		res, err = fx.d.Import(ctx, desk.ImportRequest{Files: []desk.SeedFile{file("pairs.csv", csv, false)}, AllowSharedSeed: true})
		return err
	}, "import", "batch pairs", "3 fobs from pairs.csv (oath-csv, sha256 "+sha16(csv)+"), 2 with the seed of another fob")
	if b := res.Batches[0]; b.SharedSeedCount != 2 || len(b.SharedSeeds) != 2 || b.SharedSeeds[1] != (inventory.SharedSeed{Serial: "P-3", Other: "P-2"}) {
		t.Errorf("result %+v", b)
	}
}

func TestAddFobSharedSeed(t *testing.T) {
	fx := newDesk(t)
	ctx := t.Context()
	if err := fx.d.AddFob(ctx, token("F-1"), desk.AddFobOptions{}); err != nil {
		t.Fatal(err)
	}
	twin := token("F-1")
	twin.Serial = "F-2"
	fx.refused(t, "a twin", func() error { return fx.d.AddFob(ctx, twin, desk.AddFobOptions{}) }, desk.ErrSharedSeed,
		"fob F-2 would have the seed of fob F-1", "--allow-duplicate-seed")
	// A serial already stored says so first.
	fx.refused(t, "the same fob again", func() error { return fx.d.AddFob(ctx, token("F-1"), desk.AddFobOptions{}) }, inventory.ErrExists, `"F-1"`)
	fx.act(t, "an allowed twin", func() error { return fx.d.AddFob(ctx, twin, desk.AddFobOptions{AllowSharedSeed: true}) },
		"fob add", "fob F-2", "hotp, typed in, the same seed as fob F-1")
}
