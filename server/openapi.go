package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPI is the HTTP API described in OpenAPI 3.0: every route but the
// portal's pages. openapi_test.go holds it to the routes and their answers.
//
//go:embed openapi.json
var openAPI []byte

// openAPITag is the document's entity tag: it changes with the document,
// which only a new build changes.
var openAPITag = func() string {
	h := sha256.Sum256(openAPI)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}()

// serveOpenAPI is GET /v1/openapi.json. Unlike the API's answers, which
// are no-store, the document may be cached: it is the same for everyone
// until the server is upgraded, and the tag says when it was.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", openAPITag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(openAPI))
}
