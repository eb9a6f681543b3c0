package server

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type outer struct {
		User    string            `json:"user"`
		Inner   inner             `json:"inner"`
		List    []inner           `json:"list"`
		Labels  map[string]string `json:"labels"`
		Skipped string            `json:"-"`
	}
	for _, c := range []struct{ in, want string }{
		{`{"user":"a","inner":{"name":"b"},"list":[{"name":"c"}],"labels":{"A":"1","b":"2"}}`, ""},
		{`{"user":"a","user":"b"}`, `key "user" is given twice`},
		{`{"user":"a","User":"b"}`, `keys "user" and "User" are the same field`},
		{`{"USER":"a"}`, `field names are case-sensitive; the field is "user"`},
		{`{"inner":{"Name":"b"}}`, `"Name"`},
		{`{"list":[{"name":"c"},{"name":"d","name":"e"}]}`, `given twice`},
		{`{"labels":{"a":"1","A":"2"}}`, `the same field given twice`},
		{`{"unknown":1}`, ""}, // left to the decoder's unknown-field refusal
		{`{"user":`, ""},      // left to the decoder's syntax error
	} {
		err := checkKeys([]byte(c.in), reflect.TypeFor[outer]())
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
}
