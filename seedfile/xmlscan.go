package seedfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// xmlScanner is a small, bounded, streaming XML tokenizer for the subset of
// XML that PSKC files use: elements, attributes, namespaces, character
// data, CDATA, comments and processing instructions. It refuses DTDs (and
// with them external entities and entity expansion), knows only the five
// predefined entities and character references, and caps every token at the
// size of its buffer, the nesting depth, the attributes per element and the
// namespace declarations in scope. It is several times faster than
// encoding/xml because it hands out slices of its own buffer instead of
// allocating a copy of every name and value.
//
// The slices of a token (local, attrs, text) are valid until the next call.
type xmlScanner struct {
	r    io.Reader
	buf  []byte
	pos  int
	end  int
	eof  bool
	rerr error
	line int // line of buf[pos]

	// The current token.
	kind     tokKind
	tokLine  int
	space    string // namespace of a start or end tag
	local    []byte
	attrs    []xmlAttr
	text     []byte
	scratch  []byte // decoded text and attribute values
	newlines []byte // text and attribute values with their line ends made LF

	stack      []openElem
	ns         []nsBinding
	pendingEnd bool
	started    bool // the byte order mark, if any, is behind
	rootSeen   bool
	rootClosed bool
}

type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText
	tokEOF
)

type xmlAttr struct {
	prefix, local, value []byte
}

type openElem struct {
	qname   []byte // owned copy, reused
	space   string
	local   []byte // slice of qname
	nsCount int    // bindings this element declared
}

type nsBinding struct{ prefix, uri string }

const (
	maxDepth    = 32
	maxAttrs    = 32
	maxBindings = 64
)

// errNeedMore asks the caller to read more input and try the token again.
var errNeedMore = errors.New("need more input")

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{r: r, buf: make([]byte, bufSize), line: 1}
}

// fill moves the unread bytes to the front and reads until at least want
// of them are there, the buffer is full or the input ends. It reports
// whether the buffer could take more bytes.
//
// A token cut short is scanned again from its start once more has come.
// Waiting for twice as much each time keeps that to a few scans a token
// even when the reader hands over one byte at a time (a pipe, a slow
// client): taking whatever one Read gives would scan a 64 KiB token tens
// of thousands of times.
func (s *xmlScanner) fill(want int) bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		return false
	}
	want = max(min(want, len(s.buf)), s.end+1)
	for s.end < want {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
			break
		}
	}
	return true
}

func (s *xmlScanner) errorf(format string, args ...any) error {
	return &posError{line: s.line, err: fmt.Errorf(format, args...)}
}

// posError carries the line the scanner was on.
type posError struct {
	line int
	err  error
}

func (e *posError) Error() string { return e.err.Error() }
func (e *posError) Unwrap() error { return e.err }

// next reads the next token.
func (s *xmlScanner) next() error {
	if s.pendingEnd {
		s.pendingEnd = false
		return s.pop()
	}
	for {
		err := s.token()
		if err == errNeedMore {
			if s.fill(2 * (s.end - s.pos)) {
				continue
			}
			if s.rerr != nil {
				return s.errorf("failed to read: %w", s.rerr)
			}
			if s.eof {
				return s.errorf("file ends inside markup (truncated?)")
			}
			return s.errorf("a single XML token is longer than %d KiB", bufSize>>10)
		}
		if err != nil || s.kind != 0 {
			return err
		}
	}
}

// token tries to read one token from the buffer. It sets s.kind to 0 for
// input it consumed without producing a token (comments, whitespace
// outside the root).
func (s *xmlScanner) token() error {
	s.kind = 0
	if !s.started {
		if err := s.byteOrderMark(); err != nil {
			return err
		}
	}
	if s.pos == s.end {
		if !s.eof {
			return errNeedMore
		}
		if s.rerr != nil {
			return s.errorf("failed to read: %w", s.rerr)
		}
		if len(s.stack) > 0 {
			return s.errorf("file ends inside <%s> (truncated?)", s.stack[len(s.stack)-1].qname)
		}
		if !s.rootSeen {
			return s.errorf("no root element")
		}
		s.kind = tokEOF
		return nil
	}
	b := s.buf[s.pos:s.end]
	if b[0] != '<' {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			if !s.eof {
				return errNeedMore
			}
			i = len(b)
		}
		return s.chardata(b[:i], false)
	}
	if len(b) < 2 {
		return errNeedMore
	}
	switch b[1] {
	case '?':
		return s.procInst(b)
	case '!':
		switch {
		case bytes.HasPrefix(b, []byte("<!--")):
			return s.comment(b)
		case bytes.HasPrefix(b, []byte("<![CDATA[")):
			i := bytes.Index(b[9:], []byte("]]>"))
			if i < 0 {
				return errNeedMore
			}
			s.tokLine = s.line
			s.consume(9 + i + 3)
			return s.chardata(b[9:9+i], true)
		case len(b) < 9:
			return errNeedMore
		case bytes.HasPrefix(b, []byte("<!DOCTYPE")):
			return s.errorf("DOCTYPE not allowed: PSKC files need no DTD and keydesk reads none")
		}
		return s.errorf("unexpected markup %q", truncate(string(b[:9]), 9))
	case '/':
		return s.endTag(b)
	}
	return s.startTag(b)
}

func (s *xmlScanner) consume(n int) {
	s.line += bytes.Count(s.buf[s.pos:s.pos+n], []byte{'\n'})
	s.pos += n
}

func (s *xmlScanner) chardata(raw []byte, cdata bool) error {
	if !cdata {
		s.tokLine = s.line
		s.consume(len(raw))
	}
	if len(s.stack) == 0 {
		if cdata || len(bytes.TrimLeft(raw, " \t\r\n")) > 0 {
			return s.errorf("text outside the root element")
		}
		return nil
	}
	cr, err := checkChars(raw)
	if err != nil {
		return s.errorf("in the text of <%s>: %v", s.stack[len(s.stack)-1].qname, err)
	}
	if !cdata && bytes.IndexByte(raw, ']') >= 0 && bytes.Contains(raw, []byte("]]>")) {
		return s.errorf(`"]]>" in the text of <%s>`, s.stack[len(s.stack)-1].qname)
	}
	s.text = raw
	if cr {
		s.newlines = appendNewlines(s.newlines[:0], raw)
		s.text = s.newlines
	}
	if !cdata && bytes.IndexByte(s.text, '&') >= 0 {
		s.scratch, err = decodeEntities(s.scratch[:0], s.text)
		if err != nil {
			return s.errorf("%v", err)
		}
		s.text = s.scratch
	}
	s.kind = tokText
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *xmlScanner) startTag(b []byte) error {
	if s.rootClosed {
		return s.errorf("a second root element")
	}
	n, colon, ok := scanQName(b[1:])
	if 1+n == len(b) {
		return errNeedMore
	}
	if n == 0 {
		return s.errorf("malformed start tag")
	}
	qname := b[1 : 1+n]
	if !ok {
		return s.errorf("malformed element name <%s>", truncate(string(qname), 40))
	}
	s.attrs = s.attrs[:0]
	s.scratch = s.scratch[:0]
	i := 1 + n
	for {
		j := i
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j == len(b) {
			return errNeedMore
		}
		if b[j] == '>' || b[j] == '/' {
			self := b[j] == '/'
			if self {
				if j+1 == len(b) {
					return errNeedMore
				}
				if b[j+1] != '>' {
					return s.errorf("malformed start tag <%s>", qname)
				}
				j++
			}
			return s.open(qname, colon, j+1, self)
		}
		if j == i {
			return s.errorf("malformed start tag <%s>: attributes must be separated by spaces", qname)
		}
		n, c, ok := scanQName(b[j:])
		if n == 0 {
			return s.errorf("malformed attribute in <%s>", qname)
		}
		if j+n == len(b) {
			return errNeedMore // the name may go on
		}
		name := b[j : j+n]
		if !ok {
			return s.errorf("malformed attribute name %s in <%s>", truncate(string(name), 40), qname)
		}
		prefix, local := []byte(nil), name
		if c >= 0 {
			prefix, local = name[:c], name[c+1:]
		}
		j += n
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j+1 >= len(b) {
			return errNeedMore
		}
		if b[j] != '=' {
			return s.errorf("attribute %s of <%s> has no value", name, qname)
		}
		j++
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j == len(b) {
			return errNeedMore
		}
		q := b[j]
		if q != '"' && q != '\'' {
			return s.errorf("attribute %s of <%s> is not quoted", name, qname)
		}
		k := bytes.IndexByte(b[j+1:], q)
		if k < 0 {
			return errNeedMore
		}
		val := b[j+1 : j+1+k]
		if bytes.IndexByte(val, '<') >= 0 {
			return s.errorf("'<' in attribute %s of <%s>", name, qname)
		}
		cr, err := checkChars(val)
		if err != nil {
			return s.errorf("attribute %s of <%s>: %v", name, qname, err)
		}
		if cr {
			start := len(s.scratch)
			s.scratch = appendNewlines(s.scratch, val)
			val = s.scratch[start:]
		}
		if bytes.IndexByte(val, '&') >= 0 {
			s.newlines = append(s.newlines[:0], val...)
			start := len(s.scratch)
			if s.scratch, err = decodeEntities(s.scratch, s.newlines); err != nil {
				return s.errorf("attribute %s of <%s>: %v", name, qname, err)
			}
			val = s.scratch[start:]
		}
		if len(s.attrs) == maxAttrs {
			return s.errorf("more than %d attributes on <%s>", maxAttrs, qname)
		}
		a := xmlAttr{prefix: prefix, local: local, value: val}
		for _, o := range s.attrs {
			if bytes.Equal(o.prefix, a.prefix) && bytes.Equal(o.local, a.local) {
				return s.errorf("attribute %s repeated on <%s>", name, qname)
			}
		}
		s.attrs = append(s.attrs, a)
		i = j + 1 + k + 1
	}
}

// open pushes the element whose tag is n bytes long, declares its
// namespaces and resolves its name, whose colon is at colon (-1 for none).
func (s *xmlScanner) open(qname []byte, colon, n int, self bool) error {
	if len(s.stack) == maxDepth {
		return s.errorf("elements nested deeper than %d", maxDepth)
	}
	declared := 0
	for _, a := range s.attrs {
		var prefix string
		switch {
		case len(a.prefix) == 0 && string(a.local) == "xmlns":
		case string(a.prefix) == "xmlns":
			prefix = string(a.local)
		default:
			continue
		}
		if len(s.ns) == maxBindings {
			return s.errorf("more than %d namespace declarations in scope", maxBindings)
		}
		if err := checkBinding(prefix, a.value); err != nil {
			return s.errorf("<%s>: %v", qname, err)
		}
		s.ns = append(s.ns, nsBinding{prefix: prefix, uri: s.intern(a.value)})
		declared++
	}
	for _, a := range s.attrs {
		if len(a.prefix) > 0 && string(a.prefix) != "xmlns" {
			if _, ok := s.lookup(a.prefix); !ok {
				s.ns = s.ns[:len(s.ns)-declared]
				return s.errorf("undeclared namespace prefix %q on attribute %s:%s of <%s>", a.prefix, a.prefix, a.local, qname)
			}
		}
	}
	if len(s.stack) < cap(s.stack) {
		s.stack = s.stack[:len(s.stack)+1] // reuse the qname buffer there
	} else {
		s.stack = append(s.stack, openElem{})
	}
	e := &s.stack[len(s.stack)-1]
	e.qname = append(e.qname[:0], qname...)
	e.nsCount = declared
	prefix, local := []byte(nil), e.qname
	if colon >= 0 {
		prefix, local = e.qname[:colon], e.qname[colon+1:]
	}
	space, ok := s.lookup(prefix)
	if !ok {
		return s.errorf("undeclared namespace prefix %q on <%s>", prefix, qname)
	}
	if prefix == nil && string(local) == "xmlns" {
		return s.errorf("an element called xmlns")
	}
	e.space, e.local = space, local
	s.tokLine = s.line
	s.consume(n)
	s.rootSeen = true
	s.kind, s.space, s.local = tokStart, space, local
	s.pendingEnd = self
	return nil
}

// intern returns a string for a namespace URI, reusing the one already in
// scope so that files declaring namespaces on every element do not
// allocate for each.
func (s *xmlScanner) intern(b []byte) string {
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].uri == string(b) {
			return s.ns[i].uri
		}
	}
	return string(b)
}

func (s *xmlScanner) lookup(prefix []byte) (string, bool) {
	if string(prefix) == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == string(prefix) {
			return s.ns[i].uri, true
		}
	}
	return "", len(prefix) == 0
}

func (s *xmlScanner) endTag(b []byte) error {
	i := bytes.IndexByte(b, '>')
	if i < 0 {
		return errNeedMore
	}
	name := b[2:i]
	for len(name) > 0 && isSpace(name[len(name)-1]) {
		name = name[:len(name)-1]
	}
	if len(s.stack) == 0 {
		return s.errorf("end tag </%s> without a start tag", truncate(string(name), 64))
	}
	if top := s.stack[len(s.stack)-1].qname; !bytes.Equal(name, top) {
		return s.errorf("end tag </%s> does not match <%s>", truncate(string(name), 64), top)
	}
	s.tokLine = s.line
	s.consume(i + 1)
	return s.pop()
}

func (s *xmlScanner) pop() error {
	e := &s.stack[len(s.stack)-1]
	s.ns = s.ns[:len(s.ns)-e.nsCount]
	s.kind, s.space, s.local = tokEnd, e.space, e.local
	s.stack = s.stack[:len(s.stack)-1]
	if len(s.stack) == 0 {
		s.rootClosed = true
	}
	return nil
}

// attr returns the value of the attribute without a prefix called name.
func (s *xmlScanner) attr(name string) ([]byte, bool) {
	for _, a := range s.attrs {
		if len(a.prefix) == 0 && string(a.local) == name {
			return a.value, true
		}
	}
	return nil, false
}
