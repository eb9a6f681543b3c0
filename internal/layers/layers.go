// Package layers holds keydesk's import order as data, and its test holds
// the code to it: imports run one way,
//
//	fob, u2f ← seedfile, inventory ← verify ← desk ← server ← cmd
//
// and the rooms that talk to the outside stand beside them: directory
// (LDAP) imports nothing of keydesk, as desk applies what it finds; hid
// imports only u2f, usb only hid. A package that needs something from a
// layer above it has the thing in the wrong room (docs/architecture.md).
package layers

// Rank is each package's layer; a package may import only packages of a
// lower rank, its own subpackages, and the package it sits in. Paths are
// relative to the module.
var Rank = map[string]int{
	"fob": 1, "u2f": 1, "directory": 1,
	"seedfile":    2,
	"inventory":   2,
	"verify":      3,
	"desk":        4,
	"server":      5,
	"cmd/keydesk": 6,
}

// Hardware lists the rooms that talk to devices, and all of keydesk they
// may import: they know frames and commands, not users.
var Hardware = map[string][]string{
	"hid":         {"u2f", "internal/sysfs"},
	"hid/softkey": {"hid", "u2f"},
	"usb":         {"hid", "internal/sysfs"},
}
