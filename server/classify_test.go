package server

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// A refusal under the desk's rules is a 409 with its words; anything not
// known to be a refusal is a failure to act: a 500 that says nothing of
// the inside.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		words  bool
	}{
		{verify.Refusef("user bob is already disabled"), http.StatusConflict, true},
		{fmt.Errorf("%w: cannot assign fob F1: it is in stock", desk.ErrState), http.StatusConflict, true},
		{fmt.Errorf("%w: x.pskc is the file batch b brought", desk.ErrAlreadyImported), http.StatusConflict, true},
		{fmt.Errorf("no fob with serial %q: %w", "F9", inventory.ErrNotFound), http.StatusNotFound, true},
		{errors.New("sql: database is locked"), http.StatusInternalServerError, false},
		{errors.New("anything the code does not know"), http.StatusInternalServerError, false},
	} {
		e := classify(c.err)
		if e.Status != c.status {
			t.Errorf("%v: status %d, want %d", c.err, e.Status, c.status)
		}
		if said := e.Message == c.err.Error(); said != c.words {
			t.Errorf("%v: message %q", c.err, e.Message)
		}
	}
}
