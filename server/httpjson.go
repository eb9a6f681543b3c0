package server

// The one place bodies are decoded and the one place errors are answered.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/inventory"
	"github.com/keydesk/keydesk/verify"
)

// Body limits: an auth request is a user name and a passcode; the largest
// admin request is an application with its RADIUS sources.
const (
	maxAuthBody  = 4 << 10
	maxAdminBody = 64 << 10
)

// request is a decoded body that can say what is wrong with itself.
type request interface{ Validate() error }

// apiError is an error answered with its own HTTP status and a stable code
// for scripts; Message is safe to show the caller.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the one shape of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decode reads r's body into a T, refusing what is not one JSON object of
// T's fields within limit bytes, then lets the T validate itself. On error
// it returns the zero T, never a half-filled one.
func decode[T any, P interface {
	*T
	request
}](w http.ResponseWriter, r *http.Request, limit int64) (T, error) {
	var zero T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return zero, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json, not %q", ct)
		}
	}
	return decodeJSON[T, P](http.MaxBytesReader(w, r.Body, limit))
}

// decodeJSON is decode without HTTP, for the fuzz targets.
func decodeJSON[T any, P interface {
	*T
	request
}](body io.Reader) (T, error) {
	var v, zero T
	if err := decodeStrict(body, &v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return zero, errorf(http.StatusRequestEntityTooLarge, "too_large", "the body is larger than %d bytes", tooBig.Limit)
		}
		return zero, errorf(http.StatusBadRequest, "bad_json", "%v", err)
	}
	if err := P(&v).Validate(); err != nil {
		return zero, errorf(http.StatusUnprocessableEntity, "invalid_request", "%v", err)
	}
	return v, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields, no
// key given twice and no key in another case than its field's, and names
// the byte offset of what was wrong.
func decodeStrict(r io.Reader, v any) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := checkKeys(raw, reflect.TypeOf(v)); err != nil {
		return err
	}
	r = bytes.NewReader(raw)
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return errors.New("the body is empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the JSON ends early, at byte %d", dec.InputOffset())
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("field %q at byte %d: want %s, got JSON %s", typ.Field, typ.Offset, typ.Type, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("at byte %d: want a JSON object, got JSON %s", typ.Offset, typ.Value)
	default:
		// Unknown fields and UnmarshalJSON errors carry no offset of
		// their own; the decoder's is just past the value.
		return fmt.Errorf("at byte %d: %v", dec.InputOffset(), err)
	}
	if tail, _ := io.ReadAll(io.LimitReader(io.MultiReader(dec.Buffered(), r), 64)); len(bytes.TrimSpace(tail)) > 0 {
		return fmt.Errorf("more data after the JSON value, at byte %d", dec.InputOffset())
	}
	return nil
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"the answer could not be encoded"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError answers err in the one error shape, with its status. Errors
// the caller cannot act on are logged and answered without detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)+1))
	}
	var body errorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	writeJSON(w, e.Status, body)
}

// classify maps an error to its answer. The inventory, the verifier and
// the desk say what went wrong through sentinel errors; every refusal
// under the help desk's rules matches verify.ErrRefused (a 409 with its
// words); anything else is a failure to act, a 500 whose details stay in
// the server's log.
func classify(err error) *apiError {
	var e *apiError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, verify.ErrForbidden):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: err.Error()}
	case errors.Is(err, inventory.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, inventory.ErrExists):
		return &apiError{Status: http.StatusConflict, Code: "exists", Message: err.Error()}
	case errors.Is(err, desk.ErrState):
		return &apiError{Status: http.StatusConflict, Code: "wrong_state", Message: err.Error()}
	case errors.Is(err, verify.ErrTooManyBypass):
		return &apiError{Status: http.StatusConflict, Code: "too_many_bypass_codes", Message: err.Error()}
	case errors.Is(err, verify.ErrResync), errors.Is(err, verify.ErrMalformed):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "resync_failed", Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, inventory.ErrReadOnly), inventory.Unavailable(err):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the inventory cannot take this now; try again"}
	case errors.Is(err, verify.ErrRefused):
		return &apiError{Status: http.StatusConflict, Code: "refused", Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has the details"}
}
