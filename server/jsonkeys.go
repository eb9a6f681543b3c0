package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// checkKeys refuses what encoding/json would take quietly: an object with
// a key twice ({"username":"carol",...,"username":"alice"}, where the last
// wins), and a key in another case than the field's name ({"USERNAME"}),
// which the decoder matches. A proxy in front of keydesk may read either
// differently; keydesk reads neither. t is the type the JSON is decoded
// into: names are checked against its fields, at every level where it is a
// struct.
func checkKeys(raw []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return walkValue(dec, t)
}

func walkValue(dec *json.Decoder, t reflect.Type) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return nil // malformed JSON: the decoder itself says where
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t)
	case json.Delim('['):
		var elem reflect.Type
		if t = deref(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ]
		return ignoreSyntax(err)
	}
	return nil
}

func walkObject(dec *json.Decoder, t reflect.Type) error {
	fields := fieldsOf(t)
	seen := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		folded := strings.ToLower(key)
		if first, dup := seen[folded]; dup {
			if first == key {
				return fmt.Errorf("key %q is given twice at byte %d", key, dec.InputOffset())
			}
			return fmt.Errorf("keys %q and %q are the same field given twice, at byte %d", first, key, dec.InputOffset())
		}
		seen[folded] = key
		var next reflect.Type
		if fields != nil {
			if name, ok := fields.folded[folded]; ok {
				if name != key {
					return fmt.Errorf("key %q at byte %d: field names are case-sensitive; the field is %q", key, dec.InputOffset(), name)
				}
				next = fields.types[name]
			}
		} else if t = deref(t); t != nil && t.Kind() == reflect.Map {
			next = t.Elem()
		}
		if err := walkValue(dec, next); err != nil {
			return err
		}
	}
	_, err := dec.Token() // }
	return ignoreSyntax(err)
}

func ignoreSyntax(error) error { return nil }

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// structFields are the JSON names of a struct's fields.
type structFields struct {
	folded map[string]string // lower case → the name as declared
	types  map[string]reflect.Type
}

// fieldsOf lists the JSON fields of t when it is a struct that decodes
// field by field (not through its own UnmarshalJSON).
func fieldsOf(t reflect.Type) *structFields {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	f := &structFields{folded: map[string]string{}, types: map[string]reflect.Type{}}
	addFields(f, t)
	return f
}

func addFields(f *structFields, t reflect.Type) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" && deref(sf.Type).Kind() == reflect.Struct {
			addFields(f, deref(sf.Type))
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.folded[strings.ToLower(name)] = name
		f.types[name] = sf.Type
	}
}
