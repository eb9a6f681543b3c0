package u2f

import "testing"

func TestParseAAGUID(t *testing.T) {
	const want = "2a38d610-c3ca-4864-8900-ae3475146b6f"
	for _, s := range []string{want, "2a38d610c3ca48648900ae3475146b6f", "2A38D610-C3CA-4864-8900-AE3475146B6F"} {
		a, err := ParseAAGUID(s)
		if err != nil || a.String() != want {
			t.Errorf("ParseAAGUID(%q) = %v, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "2a38d610", "2a38d610-c3ca-4864-8900-ae3475146b6", "2a38d610-c3ca-4864-8900-ae3475146b6f0",
		"2a38d610c-3ca-4864-8900-ae3475146b6f", "2a38-d610c3ca-4864-8900-ae3475146b6f", "2a38d610-c3ca-4864-8900-ae3475146b6g",
		"2a38d610c3ca48648900ae3475146b6fff", "2a38d610-c3ca4864-8900-ae3475146b6f-"} {
		if a, err := ParseAAGUID(s); err == nil || a != (AAGUID{}) {
			t.Errorf("ParseAAGUID(%q) = %v, %v; want an error and nothing", s, a, err)
		}
	}
}
