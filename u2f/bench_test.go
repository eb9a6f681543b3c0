package u2f

import "testing"

func BenchmarkParseRegistration(b *testing.B) {
	resp := unhex(b, example(b)["registration"]["response"])
	for b.Loop() {
		if _, err := ParseRegistration(resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGetInfo(b *testing.B) {
	resp := unhex(b, specGetInfo)
	for b.Loop() {
		if _, err := ParseGetInfo(resp); err != nil {
			b.Fatal(err)
		}
	}
}
