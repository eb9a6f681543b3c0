#!/usr/bin/env bash
# The figures the issues ask for, each from a benchmark that measures it.
# Run on an otherwise idle machine; numbers are per the named setting.
set -euo pipefail
cd "$(dirname "$0")/.."
bench() { echo "== $*"; go test -run '^$' "$@" 2>&1 | grep -E '^(Benchmark|ok|FAIL|---|\s+\S+_test.go)' ; }

# Issue 2 (1): verifications per second through package verify, 100,000
# fobs, each committed before it answers; one core.
bench -bench 'VerifySerial100k' -cpu 1 -benchtime 3s ./verify
# Issue 2 (2): `keydesk verify --serial S CODE` as a whole process.
bench -bench 'VerifyProcess' -benchtime 50x ./cmd/keydesk
# Issue 3: `keydesk import` as a whole process: 100,000 fobs plain and
# under a password, and peak memory at 1,000,000 fobs.
bench -bench 'ImportProcess' -benchtime 1x ./cmd/keydesk
# Issue 5: the server under load from a separate process (loadgen), 10,000
# users with a TOTP fob, 64 clients over loopback; and the verifier alone.
bench -bench '^BenchmarkLoadHTTP$' -benchtime 200000x ./server
bench -bench '^BenchmarkLoadRADIUS$' -benchtime 200000x ./server
bench -bench '^BenchmarkVerifyUser10k$' -benchtime 200000x ./server
# Issue 12: RADIUS password+otp, each password checked by a bind to a real
# slapd holding the 10,000 users; the directory's share of each request.
bench -bench '^BenchmarkLoadRADIUSPasswordOTP$' -benchtime 50000x ./server
# Issue 14: the HTTP load on SQLite and on PostgreSQL behind one, two and
# three servers sharing one database, with PostgreSQL's CPU beside keydesk's.
bench -bench '^BenchmarkLoadNodes$' -benchtime 100000x ./server
# Issue 8 (6): a denial for a user who does not exist takes as long as
# one for a user who does.
bench -bench '^BenchmarkDenialTime$' -benchtime 5000x ./server
# Every other benchmark (seed-file parsing, CTAPHID framing, ...).
for pkg in $(go list ./... | grep -v -e /cmd/keydesk$ -e /verify$ -e /server$ -e /loadgen$); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	if grep -qs '^func Benchmark' "$dir"/*_test.go; then bench -bench . -benchtime 1s "$pkg"; fi
done
