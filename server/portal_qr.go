package server

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
)

// qrSVG draws text as a QR code in SVG, rendered here so that the page
// needs nothing from elsewhere: one path of unit squares, with the quiet
// zone of four modules ISO/IEC 18004 §7.3.7 asks for. Error correction
// level M, as authenticator apps' own examples use.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("drawing the QR code: %w", err)
	}
	const quiet = 4
	n := code.Bounds().Dx()
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	size := n + 2*quiet
	// Built from numbers only: nothing of text reaches the markup but
	// through the modules.
	svg := fmt.Sprintf(`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="QR code for your authenticator app" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		size, size, size, size, path.String())
	return template.HTML(svg), nil
}

// pageFuncs are what the portal's templates may call.
var pageFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format("2 Jan 2006, 15:04")
	},
	"day": func(t time.Time) string { return t.Local().Format("2 Jan 2006") },
}
