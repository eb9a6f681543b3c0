package server

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// Every key of the config file, nested ones included, is in
// docs/configuration.md, and the document names no key the server does
// not know.
func TestConfigurationDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		for f := range typ.Fields() {
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys[name] = true
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Config]())
	for k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("config key %q is not in docs/configuration.md", k)
		}
	}
	// The keys of the document's tables: the first cell of each row.
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, k := range strings.Split(cells[1], ",") {
			k = strings.Trim(strings.TrimSpace(k), "`")
			if !keys[k] {
				t.Errorf("docs/configuration.md documents %q, which the config does not have", k)
			}
		}
	}
	if len(keys) < 50 {
		t.Errorf("only %d keys found: the walk is broken", len(keys))
	}
}
