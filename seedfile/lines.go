package seedfile

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/keydesk/keydesk/fob"
)

// lineReader yields the lines of a text file one at a time, each at most
// maxLine bytes, without the line ending.
type lineReader struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// next returns the next line. The slice is valid until the next call.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(l.buf)+len(chunk) > maxLine+2 { // +2 for \r\n
			l.line++
			return nil, errLineTooLong
		}
		l.buf = append(l.buf, chunk...)
		switch err {
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
		case nil:
		default:
			return nil, err
		}
		break
	}
	l.line++
	b := bytes.TrimRight(l.buf, "\r\n")
	if l.line == 1 {
		b = bytes.TrimPrefix(b, utf8BOM)
	}
	if len(b) > maxLine {
		return nil, errLineTooLong
	}
	if !utf8.Valid(b) {
		return nil, errors.New("line is not valid UTF-8")
	}
	return b, nil
}

// splitCSV splits one line at commas, trimming spaces around each field.
// A field may be "quoted" (RFC 4180 §2: a quote inside is doubled). Records
// never span lines in seed files, so a quote left open is an error, and so
// is text between a closing quote and the next comma, which a lax reader
// would drop without a word. On error the fields are still split as well
// as they can be, for Detect.
func splitCSV(line string) ([]string, error) {
	var out []string
	var bad error
	for {
		line = strings.TrimLeft(line, " \t")
		var f string
		if strings.HasPrefix(line, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(line[i])
				i++
			}
			f = b.String()
			line = line[i:]
			j := strings.IndexByte(line, ',')
			if j < 0 {
				j = len(line)
			}
			switch {
			case bad != nil:
			case !closed:
				bad = fmt.Errorf("field %d: quote not closed", len(out)+1)
			case strings.Trim(line[:j], " \t") != "":
				bad = fmt.Errorf("field %d: text after the closing quote", len(out)+1)
			}
			line = line[j:]
		} else if j := strings.IndexByte(line, ','); j >= 0 {
			f, line = strings.TrimSpace(line[:j]), line[j:]
		} else {
			f, line = strings.TrimSpace(line), ""
		}
		out = append(out, f)
		if line == "" {
			return out, bad
		}
		line = line[1:] // the comma
	}
}

// blankField reports whether the first field of raw, an untrimmed line,
// holds white space and nothing else: a column someone meant to fill.
func blankField(raw string) bool {
	if raw == "" || raw[0] == ',' || raw[0] > ' ' && raw[0] < utf8.RuneSelf {
		return false // the usual: an empty column, or one that starts with a name
	}
	if strings.HasPrefix(strings.TrimLeft(raw, " \t"), `"`) {
		return false
	}
	if j := strings.IndexByte(raw, ','); j >= 0 {
		raw = raw[:j]
	}
	return raw != "" && strings.TrimSpace(raw) == ""
}

// decodeHex decodes a hex field; spaces (as some tools group bytes) are
// ignored. Errors give the character position, never the content.
func decodeHex(what, s string) ([]byte, error) {
	s = strings.ReplaceAll(s, " ", "")
	if s == "" {
		return nil, fmt.Errorf("missing %s", what)
	}
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("bad hex in %s: odd length %d", what, len(s))
	}
	out := make([]byte, len(s)/2)
	if _, err := hex.Decode(out, []byte(s)); err != nil {
		var ie hex.InvalidByteError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("bad hex in %s: character %d is not a hex digit", what, strings.IndexByte(s, byte(ie))+1)
		}
		return nil, fmt.Errorf("bad hex in %s", what)
	}
	return out, nil
}

func isHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lineFile is what the line-oriented readers share: where they are in
// which file, the serials seen, the rows read, and the error that ended
// the file, which every later call returns again.
type lineFile struct {
	name    string
	format  Format
	lines   lineReader
	raw     string // the last line nextLine returned, untrimmed
	serials *serialSet
	rows    int
	err     error
}

func newLineFile(name string, f Format, r *bufio.Reader) lineFile {
	return lineFile{name: name, format: f, lines: lineReader{r: r}, serials: newSerialSet()}
}

func (l *lineFile) Skipped() []Skip { return nil }
func (l *lineFile) Vendor() string  { return "" }
func (l *lineFile) Format() Format  { return l.format }

// fail records the error that ends the file, at the current line.
func (l *lineFile) fail(serial string, err error) (fob.Token, error) {
	l.err = &ParseError{File: l.name, Line: l.lines.line, Serial: serial, Err: err}
	return fob.Token{}, l.err
}

// nextLine returns the next line that has text, trimmed, or io.EOF after
// the last; once the file has failed, its error.
func (l *lineFile) nextLine() (string, error) {
	if l.err != nil {
		return "", l.err
	}
	for {
		b, err := l.lines.next()
		if err == io.EOF {
			return "", io.EOF
		}
		if err != nil {
			_, err = l.fail("", err)
			return "", err
		}
		l.raw = string(b)
		if line := strings.TrimSpace(l.raw); line != "" {
			return line, nil
		}
	}
}
