package main

import (
	"bufio"
	"strings"
	"testing"
)

// An answer as keydesk serve writes it.
const answer = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json\r\n" +
	"X-Content-Type-Options: nosniff\r\nDate: Sat, 22 Nov 2026 12:00:00 GMT\r\nContent-Length: 79\r\n\r\n" +
	`{"result":"allow","reason":"code accepted from fob LT-load00001","reason_code":"ok"}` + "\n"

func TestReadHead(t *testing.T) {
	h := &rawHTTPSender{r: bufio.NewReader(strings.NewReader(answer))}
	status, n, err := h.readHead()
	if err != nil || status != 200 || n != 79 {
		t.Errorf("readHead = %d, %d, %v", status, n, err)
	}
	for _, bad := range []string{"", "HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"} {
		h := &rawHTTPSender{r: bufio.NewReader(strings.NewReader(bad))}
		if status, n, err := h.readHead(); err == nil {
			t.Errorf("readHead(%q) = %d, %d", bad, status, n)
		}
	}
}

func FuzzReadHead(f *testing.F) {
	f.Add(answer)
	f.Add("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		h := &rawHTTPSender{r: bufio.NewReader(strings.NewReader(s))}
		status, n, err := h.readHead()
		if err == nil && (status < 0 || status > 999 || n < 0) {
			t.Fatalf("readHead(%q) = %d, %d", s, status, n)
		}
	})
}
