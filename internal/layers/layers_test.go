package layers

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/keydesk/keydesk/"

// imports reads the keydesk imports of every package's non-test files,
// from the module's root.
func imports(t *testing.T) map[string][]string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || path == filepath.Join(root, "lab", "out")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[rel], dep) {
				out[rel] = append(out[rel], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rank is the layer of pkg or of the package it sits under (server/x is
// the server's), and 0 for a package outside the layers.
func rank(pkg string) int {
	for p := pkg; p != "."; p = filepath.Dir(p) {
		if r, ok := Rank[p]; ok {
			return r
		}
	}
	return 0
}

// violations lists every import against the order in all.
func violations(all map[string][]string) []string {
	var out []string
	for pkg, deps := range all {
		if allowed, ok := Hardware[pkg]; ok {
			for _, d := range deps {
				if !slices.Contains(allowed, d) {
					out = append(out, fmt.Sprintf("%s imports %s; a hardware room may import only %v", pkg, d, allowed))
				}
			}
			continue
		}
		r := rank(pkg)
		if r == 0 {
			continue
		}
		for _, d := range deps {
			if strings.HasPrefix(d, pkg+"/") || strings.HasPrefix(pkg, d+"/") {
				continue // a package and its own subpackages
			}
			if _, hw := Hardware[d]; hw && r < Rank["cmd/keydesk"] {
				out = append(out, fmt.Sprintf("%s imports %s: only the CLI talks to devices; pass what is needed in as an interface", pkg, d))
			}
			if rd := rank(d); rd >= r {
				out = append(out, fmt.Sprintf("%s (layer %d) imports %s (layer %d): imports run one way", pkg, r, d, rd))
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestImportsRunOneWay(t *testing.T) {
	all := imports(t)
	if len(all) < 10 {
		t.Fatalf("found only %d packages; is the test run from internal/layers?", len(all))
	}
	for _, v := range violations(all) {
		t.Error(v)
	}
}

func TestViolationsFound(t *testing.T) {
	got := violations(map[string][]string{
		"verify":        {"inventory", "desk"},
		"server/portal": {"server", "cmd/keydesk"},
		"inventory":     {"hid"},
		"usb":           {"hid", "inventory"},
		"desk":          {"directory", "server"},
		"seedfile/gen":  {"seedfile"},
	})
	want := []string{
		"desk (layer 4) imports server (layer 5): imports run one way",
		"inventory imports hid: only the CLI talks to devices; pass what is needed in as an interface",
		"server/portal (layer 5) imports cmd/keydesk (layer 6): imports run one way",
		"usb imports inventory; a hardware room may import only [hid internal/sysfs]",
		"verify (layer 3) imports desk (layer 4): imports run one way",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
