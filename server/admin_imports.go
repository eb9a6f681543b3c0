package server

// The admin API's routes on security keys and seed file imports.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/keydesk/keydesk/desk"
	"github.com/keydesk/keydesk/seedfile"
	"github.com/keydesk/keydesk/verify"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	keys, err := s.deps.Desk.Keys(r.Context(), name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"user": name, "keys": keys})
}

func (s *Server) removeKey(w http.ResponseWriter, r *http.Request, actor string) error {
	name, err := pathName(r, "user")
	if err != nil {
		return err
	}
	ref := r.PathValue("key")
	if ref == "" || len(ref) > 128 {
		return errorf(http.StatusBadRequest, "bad_path", "a key is named by its number or its name, 1 to 128 characters")
	}
	if err := s.desk(actor).RemoveKey(r.Context(), name, ref); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]any{"user": name, "key": ref, "removed": true})
}

// maxImportBody bounds an uploaded seed file in JSON, base64 and all:
// some 24 MB of file, a couple of hundred thousand fobs, held in memory
// while it is imported. maxRawImport bounds one sent as the body itself
// (application/octet-stream), which is read as it is imported, never held.
const (
	maxImportBody = 32 << 20
	maxRawImport  = 1 << 30
	importRetry   = 5 * time.Second
)

// rawImportRequest reads the options of an import whose body is the seed
// file itself: in the query (file_name, format, batch, dry_run,
// skip_existing), and what opens an encrypted file in headers, which
// proxies and logs keep out of URLs (Keydesk-Seed-PSK in hex,
// Keydesk-Seed-Password).
func rawImportRequest(r *http.Request) (importRequest, error) {
	q := r.URL.Query()
	flag := func(name string) (bool, error) {
		switch v := q.Get(name); v {
		case "", "0", "false":
			return false, nil
		case "1", "true":
			return true, nil
		default:
			return false, fmt.Errorf("%s must be true or false, not %q", name, v)
		}
	}
	req := importRequest{FileName: q.Get("file_name"), Format: q.Get("format"), Batch: q.Get("batch"),
		PSK: r.Header.Get("Keydesk-Seed-PSK"), Password: r.Header.Get("Keydesk-Seed-Password"), Content: "-"}
	var err1, err2 error
	req.DryRun, err1 = flag("dry_run")
	req.SkipExisting, err2 = flag("skip_existing")
	if err := errors.Join(err1, err2); err != nil {
		return importRequest{}, errorf(http.StatusBadRequest, "bad_query", "%v", err)
	}
	if err := req.check(); err != nil {
		return importRequest{}, errorf(http.StatusUnprocessableEntity, "invalid_request", "%v", err)
	}
	return req, nil
}

// importRequest is the body of POST /v1/admin/imports: one seed file, in
// base64, with what opens it if it is encrypted.
type importRequest struct {
	FileName     string `json:"file_name"`
	Content      string `json:"content"` // the file, base64 (RFC 4648 §4)
	Format       string `json:"format"`  // auto (the default), pskc, oath-csv, yubico-csv, otpauth
	Password     string `json:"password"`
	PSK          string `json:"psk"` // hex, 16, 24 or 32 bytes
	Batch        string `json:"batch"`
	DryRun       bool   `json:"dry_run"`
	SkipExisting bool   `json:"skip_existing"`

	file   []byte
	format seedfile.Format
	psk    []byte
}

func (q *importRequest) Validate() error {
	if err := q.check(); err != nil {
		return err
	}
	var err error
	if q.file, err = base64.StdEncoding.DecodeString(q.Content); err != nil {
		return fmt.Errorf("content: not base64: %v", err)
	}
	if len(q.file) == 0 {
		return errors.New("content: the file is empty")
	}
	return nil
}

// check checks what both forms of an import request carry.
func (q *importRequest) check() error {
	var err error
	switch {
	case q.FileName == "" || len(q.FileName) > 256 || strings.ContainsAny(q.FileName, "/\\\x00"):
		return errors.New("file_name: 1 to 256 characters, without a path")
	case len(q.Batch) > 256:
		return errors.New("batch: at most 256 characters")
	case len(q.Password) > 1024:
		return errors.New("password: at most 1024 characters")
	}
	if q.format, err = seedfile.ParseFormat(q.Format); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	if q.PSK != "" {
		q.psk, err = hex.DecodeString(q.PSK)
		if err != nil || (len(q.psk) != 16 && len(q.psk) != 24 && len(q.psk) != 32) {
			return errors.New("psk: want an AES key of 16, 24 or 32 bytes in hex")
		}
	}
	return nil
}

// importSeedFile imports one uploaded seed file in one transaction. One
// import runs at a time: an import holds the inventory's writer and a
// large file, so a second one waits its turn at the client (429 with
// Retry-After) rather than in the server's memory.
func (s *Server) importSeedFile(w http.ResponseWriter, r *http.Request, actor string) error {
	select {
	case s.importing <- struct{}{}:
		defer func() { <-s.importing }()
	default:
		s.m.imports.WithLabelValues("busy").Inc()
		return &apiError{Status: http.StatusTooManyRequests, Code: "import_running",
			Message: "another import is running; try again when it is done", RetryAfter: importRetry}
	}
	var req importRequest
	var file io.Reader
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/octet-stream" {
		req, err = rawImportRequest(r)
		file = http.MaxBytesReader(w, r.Body, maxRawImport)
	} else {
		req, err = decode[importRequest](w, r, maxImportBody)
		file = bytes.NewReader(req.file)
	}
	if err != nil {
		return err
	}
	keys := seedfile.Keys{PSK: req.psk}
	if req.Password != "" {
		keys.Password = func() ([]byte, error) { return []byte(req.Password), nil }
	}
	res, err := s.desk(actor).Import(r.Context(), desk.ImportRequest{
		Files:  []desk.SeedFile{{Name: req.FileName, R: file}},
		Format: req.format, Keys: keys, Batch: req.Batch, DryRun: req.DryRun, SkipExisting: req.SkipExisting,
		MayAddUsers: mayAct(r, verify.ModifyUsers),
	})
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "the seed file is larger than %d bytes; import it with keydesk import at the console", tooBig.Limit)
	}
	if err != nil {
		s.m.imports.WithLabelValues("refused").Inc()
		return importError(err)
	}
	if req.DryRun {
		s.m.imports.WithLabelValues("dry_run").Inc()
		return ok(w, http.StatusOK, res)
	}
	s.m.imports.WithLabelValues("imported").Inc()
	s.m.importedFobs.Add(float64(res.Total()))
	return ok(w, http.StatusCreated, res)
}

// importError gives a refused import its answer: a file that does not
// read is the request's fault (422), one already imported a conflict.
func importError(err error) error {
	var pe *seedfile.ParseError
	switch {
	case errors.Is(err, desk.ErrAlreadyImported), errors.Is(err, desk.ErrDuplicates):
		return &apiError{Status: http.StatusConflict, Code: "already_imported", Message: err.Error()}
	case errors.Is(err, seedfile.ErrNeedKey), errors.Is(err, seedfile.ErrWrongKey):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "seed_file_key", Message: err.Error()}
	case errors.As(err, &pe):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "bad_seed_file", Message: err.Error()}
	}
	return err
}
