package seedfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// xmlEvent is what a reader of PSKC sees of a document: elements with
// their resolved names and attributes, and the text between them.
type xmlEvent struct {
	kind  byte // 'S' start, 'E' end, 'T' text
	name  xml.Name
	attrs []xml.Attr
	text  string
}

func (e xmlEvent) String() string {
	switch e.kind {
	case 'S':
		var b strings.Builder
		fmt.Fprintf(&b, "<{%s}%s", e.name.Space, e.name.Local)
		for _, a := range e.attrs {
			fmt.Fprintf(&b, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
		}
		return b.String() + ">"
	case 'E':
		return fmt.Sprintf("</{%s}%s>", e.name.Space, e.name.Local)
	}
	return fmt.Sprintf("%q", e.text)
}

// scannerEvents runs keydesk's scanner over data.
func scannerEvents(data []byte) ([]xmlEvent, error) {
	return scanEvents(bytes.NewReader(data))
}

func scanEvents(r io.Reader) ([]xmlEvent, error) {
	s := newXMLScanner(r)
	var out []xmlEvent
	var text []byte
	flush := func() {
		if len(text) > 0 {
			out = append(out, xmlEvent{kind: 'T', text: string(text)})
			text = text[:0]
		}
	}
	for {
		if err := s.next(); err != nil {
			return nil, err
		}
		switch s.kind {
		case tokEOF:
			flush()
			return out, nil
		case tokText:
			text = append(text, s.text...)
		case tokStart:
			flush()
			e := xmlEvent{kind: 'S', name: xml.Name{Space: s.space, Local: string(s.local)}, attrs: []xml.Attr{}}
			for _, a := range s.attrs {
				space := string(a.prefix)
				switch space {
				case "", "xmlns":
				default:
					uri, ok := s.lookup(a.prefix)
					if !ok {
						return nil, fmt.Errorf("harness: attribute prefix %q the scanner took is undeclared", a.prefix)
					}
					space = uri
				}
				e.attrs = append(e.attrs, xml.Attr{Name: xml.Name{Space: space, Local: string(a.local)}, Value: string(a.value)})
			}
			out = append(out, e)
		case tokEnd:
			flush()
			out = append(out, xmlEvent{kind: 'E', name: xml.Name{Space: s.space, Local: string(s.local)}})
		}
	}
}

// stdEvents runs encoding/xml over data. Text outside the root element
// (white space, and the byte order mark, which encoding/xml hands out as
// text) is not compared: the scanner refuses anything else there.
func stdEvents(data []byte) ([]xmlEvent, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	// The scanner also takes a declared US-ASCII as UTF-8, of which it is
	// a subset; encoding/xml wants a CharsetReader to say so.
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if l := strings.ToLower(label); l == "us-ascii" || l == "ascii" {
			return r, nil
		}
		return nil, fmt.Errorf("charset %q", label)
	}
	var out []xmlEvent
	var text []byte
	depth := 0
	flush := func() {
		if len(text) > 0 {
			out = append(out, xmlEvent{kind: 'T', text: string(text)})
			text = text[:0]
		}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			flush()
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			flush()
			depth++
			out = append(out, xmlEvent{kind: 'S', name: tok.Name, attrs: append([]xml.Attr{}, tok.Attr...)})
		case xml.EndElement:
			flush()
			depth--
			out = append(out, xmlEvent{kind: 'E', name: tok.Name})
		case xml.CharData:
			if depth > 0 {
				text = append(text, tok...)
			}
		}
	}
}

// FuzzXMLScanner checks keydesk's scanner against encoding/xml: a document
// the scanner accepts, encoding/xml accepts too, and both see the same
// elements, attributes and text. The scanner may refuse more, and does on
// purpose: DTDs, entities beyond the five predefined, names outside ASCII,
// undeclared or misused namespace prefixes, duplicate attributes, text or a
// second element outside the root, an XML declaration after the start,
// and anything past its size limits.
func FuzzXMLScanner(f *testing.F) {
	names, _ := filepath.Glob(dir + "*.pskc")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range xmlCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := scannerEvents(data)
		// Read a byte at a time, every token is tried on each part of it
		// first: the scanner must wait for the rest, not decide early.
		slow, slowErr := scanEvents(iotest.OneByteReader(bytes.NewReader(data)))
		if (err == nil) != (slowErr == nil) || fmt.Sprint(got) != fmt.Sprint(slow) {
			t.Fatalf("read whole and a byte at a time, %q gives\n%v, %v\n%v, %v", data, got, err, slow, slowErr)
		}
		if err != nil {
			var pe *posError
			if !errors.As(err, &pe) {
				t.Fatalf("scanner error without a line: %v", err)
			}
			return
		}
		want, err := stdEvents(data)
		if err != nil {
			t.Fatalf("the scanner accepts what encoding/xml refuses (%v):\n%q", err, data)
		}
		if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
			t.Fatalf("the scanner and encoding/xml differ on %q:\nscanner      %s\nencoding/xml %s", data, g, w)
		}
	})
}

// xmlCorpus holds the forms of XML the scanner must read as encoding/xml
// does, and the ones it refuses; each fuzzing finding is added here.
var xmlCorpus = []string{
	`<a/>`,
	`<?xml version="1.0" encoding="UTF-8"?><a x='1' y="2">t<!--c--><?pi d?><![CDATA[<&>]]>&lt;&#65;&#x42;</a>`,
	"<p:a xmlns:p='urn:p' xmlns='urn:d' p:x='1' xml:lang='en'><b/><p:c xmlns:p='urn:q' p:y=''/></p:a>",
	// Line ends are made LF in text, CDATA and attribute values (XML 1.0
	// §2.11), but not when written as a character reference.
	"\xef\xbb\xbf<a>\r\n</a>",
	"<a b='x\r\ny\rz' c='&#13;\r'>1\r2\r\n3&#13;<![CDATA[4\r\n5]]></a>",
	"<a>\u00e9\U0001F600&#xE9;\x7f</a>",
	"<a><!----><!-- - --></a>",
	"<?xml version='1.0' encoding='us-ascii' standalone='yes'?>\n<a/>",
	"<?xml-stylesheet href='x'?><a><?pi?></a>",
}

// What the differential check found the scanner took that encoding/xml
// refuses or reads otherwise; each is refused now, or read the same way
// (the corpus above holds those).
func TestXMLScannerRefuses(t *testing.T) {
	for _, c := range []struct{ doc, text string }{
		{"<a><!-- x -- y --></a>", `"--" inside a comment`},
		{"<a><!-- x ---></a>", `"--" inside a comment`},
		{"<a><!--></a>", `file ends inside markup`},
		{"<a>x]]>y</a>", `"]]>" in the text of <a>`},
		{"<a>\x01</a>", `in the text of <a>: control character 0x01`},
		{"<a>\xff</a>", `in the text of <a>: invalid UTF-8`},
		{"<a>\uffff</a>", `U+FFFF is not an XML character`},
		{"<a b='\x00'/>", `attribute b of <a>: control character 0x00`},
		{"<a><!-- \x02 --></a>", `in a comment: control character 0x02`},
		{"<a><?pi \x03?></a>", `in a processing instruction: control character 0x03`},
		{"<a><??></a>", `malformed processing instruction`},
		{"<a><?1pi?></a>", `malformed processing instruction <?1pi`},
		{"<?xml version='1.1'?><a/>", `XML declaration: unsupported: XML version "1.1"`},
		{"<?xml\tencoding='latin1'?><a/>", `XML declaration: unsupported: character encoding "latin1"`},
		{"<?xml version = '1.0' encoding = \"ISO-8859-1\"?><a/>", `unsupported: character encoding "iso-8859-1"`},
		{"<?xml version='1.0' foo='bar'?><a/>", `XML declaration: malformed`},
		{"<a><?XML version='1.0'?></a>", `XML declaration <?XML after the start`},
		{"<a/><?xml version='1.0'?>", `XML declaration <?xml after the start`},
		{"<:a/>", `malformed element name <:a>`},
		{"<a:/>", `malformed element name <a:>`},
		{"<a:b:c xmlns:a='u'/>", `malformed element name <a:b:c>`},
		{"<1a/>", `malformed element name <1a>`},
		{"<a&b/>", `malformed element name <a&b>`},
		{"<\u00e9/>", `malformed element name`},
		{"<a :b='1'/>", `malformed attribute name :b in <a>`},
		{"<a xmlns:='u'/>", `malformed attribute name xmlns: in <a>`},
		{"<a p:b='1'/>", `undeclared namespace prefix "p" on attribute p:b of <a>`},
		{"<a xmlns:p=''/>", `<a>: prefix p declared with an empty namespace`},
		{"<a xmlns:xmlns='u'/>", `the xmlns prefix cannot be declared`},
		{"<a xmlns:xml='u'/>", `the xml prefix and its namespace go together only`},
		{"<a xmlns:p='http://www.w3.org/2000/xmlns/'/>", `the xmlns namespace cannot be declared`},
		{"<xmlns xmlns='u'/>", `an element called xmlns`},
		{"<![CDATA[ ]]><a/>", `text outside the root element`},
	} {
		_, err := scannerEvents([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%q: got %v, want %q", c.doc, err, c.text)
		}
	}
}

// checkChars's eight-at-a-time path says what a byte-by-byte reading of
// XML 1.0 §2.2 says.
func TestCheckChars(t *testing.T) {
	naive := func(b []byte) bool {
		for len(b) > 0 {
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError && n == 1 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
				return false
			}
			b = b[n:]
		}
		return true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 0x1f, 0x20, '\t', '\n', '\r', 'a', 0x7f, 0x80, 0xc3, 0xa9, 0xef, 0xbf, 0xbe, 0xed, 0xa0, 0xf4, 0x90}
	for i := 0; i < 200000; i++ {
		b := make([]byte, rng.IntN(24))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(3) == 0 {
				b[j] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		cr, err := checkChars(b)
		if (err == nil) != naive(b) || err == nil && cr != bytes.Contains(b, []byte("\r")) {
			t.Fatalf("%q: checkChars says %v, %v", b, cr, err)
		}
	}
}
