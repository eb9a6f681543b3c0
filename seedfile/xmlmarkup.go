package seedfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The markup of a document that is not an element: the byte order mark,
// comments, processing instructions and the XML declaration.

// byteOrderMark passes over a UTF-8 byte order mark at the start (XML 1.0
// §4.3.3, Appendix F.1: it is not part of the document) and refuses UTF-16.
func (s *xmlScanner) byteOrderMark() error {
	b := s.buf[s.pos:s.end]
	if len(b) < len(utf8BOM) && !s.eof {
		return errNeedMore
	}
	s.started = true
	switch {
	case bytes.HasPrefix(b, utf8BOM):
		s.pos += len(utf8BOM)
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}), bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		return s.errorf("%w: the file is UTF-16 (want UTF-8)", ErrUnsupported)
	}
	return nil
}

// comment passes over a comment, which XML 1.0 §2.5 forbids to hold "--"
// or to end in "-".
func (s *xmlScanner) comment(b []byte) error {
	i := bytes.Index(b[4:], []byte("-->"))
	if i < 0 {
		return errNeedMore
	}
	body := b[4 : 4+i]
	if bytes.Contains(body, []byte("--")) || bytes.HasSuffix(body, []byte("-")) {
		return s.errorf(`"--" inside a comment`)
	}
	if _, err := checkChars(body); err != nil {
		return s.errorf("in a comment: %v", err)
	}
	s.consume(4 + i + 3)
	return nil
}

// procInst passes over a processing instruction (XML 1.0 §2.6) and checks
// the XML declaration (§2.8): version 1.0, and UTF-8, which keydesk reads
// only (US-ASCII is a part of it).
func (s *xmlScanner) procInst(b []byte) error {
	i := bytes.Index(b[2:], []byte("?>"))
	if i < 0 {
		return errNeedMore
	}
	body := b[2 : 2+i]
	target, rest := body, []byte(nil)
	if j := bytes.IndexAny(body, " \t\r\n"); j >= 0 {
		target, rest = body[:j], body[j:]
	}
	if !isNCName(target) {
		return s.errorf("malformed processing instruction <?%s", truncate(string(target), 20))
	}
	if _, err := checkChars(rest); err != nil {
		return s.errorf("in a processing instruction: %v", err)
	}
	if bytes.EqualFold(target, []byte("xml")) {
		if string(target) != "xml" || s.rootSeen {
			return s.errorf("XML declaration <?%s after the start", target)
		}
		if err := xmlDecl(rest); err != nil {
			return s.errorf("XML declaration: %w", err)
		}
	}
	s.consume(2 + i + 2)
	return nil
}

// xmlDecl checks the pseudo-attributes of an XML declaration (§2.8, §4.3.3).
func xmlDecl(b []byte) error {
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return nil
		}
		eq := bytes.IndexByte(b, '=')
		if eq < 0 {
			return errors.New("malformed")
		}
		name := string(bytes.TrimRight(b[:eq], " \t\r\n"))
		b = bytes.TrimLeft(b[eq+1:], " \t\r\n")
		if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
			return errors.New("malformed")
		}
		end := bytes.IndexByte(b[1:], b[0])
		if end < 0 {
			return errors.New("malformed")
		}
		v := string(b[1 : 1+end])
		b = b[1+end+1:]
		switch l := strings.ToLower(v); name {
		case "version":
			if v != "1.0" {
				return fmt.Errorf("%w: XML version %q (want 1.0)", ErrUnsupported, truncate(v, 10))
			}
		case "encoding":
			if l != "utf-8" && l != "us-ascii" && l != "ascii" {
				return fmt.Errorf("%w: character encoding %q (want UTF-8)", ErrUnsupported, truncate(l, 20))
			}
		case "standalone":
			if v != "yes" && v != "no" {
				return errors.New("malformed")
			}
		default:
			return errors.New("malformed")
		}
	}
}

// checkBinding applies Namespaces in XML §3's constraints on declaring
// prefix (""for the default namespace) as uri.
func checkBinding(prefix string, uri []byte) error {
	const xmlURI, xmlnsURI = "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/"
	switch {
	case prefix == "xmlns":
		return errors.New("the xmlns prefix cannot be declared")
	case prefix == "xml" && string(uri) != xmlURI, prefix != "xml" && string(uri) == xmlURI:
		return errors.New("the xml prefix and its namespace go together only")
	case string(uri) == xmlnsURI:
		return errors.New("the xmlns namespace cannot be declared")
	case prefix != "" && len(uri) == 0:
		return fmt.Errorf("prefix %s declared with an empty namespace", prefix)
	}
	return nil
}
