#!/usr/bin/env bash
# The help desk's main job on a fresh inventory: fobs in, one handed out,
# codes checked, a bypass code issued and used, the inventory and the audit
# log shown. It runs on keydesk's default store (SQLite in the data
# folder, master key in the config folder), with both folders pointed
# under build/demo so that a real inventory is never touched.
set -euo pipefail
keydesk=$(realpath "${1:-bin/keydesk}")
demo=$(realpath -m build/demo)
rm -rf "$demo" && mkdir -p "$demo"
export XDG_DATA_HOME=$demo/data XDG_CONFIG_HOME=$demo/config
cd "$demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
try() { printf '$ %s\n' "$*"; "$@" || printf '(exit status %d)\n' "$?"; }

step "A new inventory and its master key (keep a copy of the key apart from the database)"
run "$keydesk" init

step "A box of fobs arrives with the vendor's seed file (OATH CSV: serial, seed, kind, digits, counter or step, hash)"
printf '3132333435363738393031323334353637383930\n' > seed-hotp.hex
printf '12345678901234567890123456789012' | od -An -tx1 | tr -d ' \n' > seed-totp.hex
{
	echo "# serial, seed (hex), type, digits, counter or time step, hash"
	echo "HOTP-0001,$(cat seed-hotp.hex),hotp,6,0,sha1"
	echo "TOTP-0002,$(cat seed-totp.hex),totp,8,30,sha256"
	echo "TOTP-0003,4142434445464748494a4b4c4d4e4f5051525354,totp,6,30,sha1"
} > box-2026-11.csv
run "$keydesk" import box-2026-11.csv
step "The same file again imports nothing, and says why"
try "$keydesk" import box-2026-11.csv
run "$keydesk" batch list

step "Two people come to the desk"
printf '$ %s user add alice --full-name "Alice Liddell" --email alice@example.edu\n' "$keydesk"
"$keydesk" user add alice --full-name "Alice Liddell" --email alice@example.edu
printf '$ %s user add bob --full-name "Bob Dodgson"\n' "$keydesk"
"$keydesk" user add bob --full-name "Bob Dodgson"

step "Alice gets a fob, and tests it at the counter"
run "$keydesk" fob assign HOTP-0001 alice
code=$(oathtool --hotp -c 0 "$(cat seed-hotp.hex)")
run "$keydesk" verify --serial HOTP-0001 "$code"
step "The same code again is refused: a replay"
try "$keydesk" verify --serial HOTP-0001 "$code"
step "Alice logs in with the next code"
run "$keydesk" verify --user alice "$(oathtool --hotp -c 1 "$(cat seed-hotp.hex)")"
step "A time-based fob, tested with the code it shows now"
run "$keydesk" verify --serial TOTP-0002 "$(oathtool --totp=sha256 -d 8 "$(cat seed-totp.hex)")"

step "Bob forgot his phone: a bypass code, good once, for an hour"
printf '$ %s bypass issue bob\n' "$keydesk"
bypass=$("$keydesk" bypass issue bob 2>bypass.note)
printf '%s\n' "$bypass" && cat bypass.note
run "$keydesk" verify --user bob "$bypass"
try "$keydesk" verify --user bob "$bypass"

step "Alice's fob is stolen: it is refused from now on"
run "$keydesk" fob lost HOTP-0001 --reason stolen
try "$keydesk" verify --user alice "$(oathtool --hotp -c 2 "$(cat seed-hotp.hex)")"

step "Who needs a factor now, and what is on the shelf"
run "$keydesk" report no-factor
run "$keydesk" report stock

step "The inventory"
run "$keydesk" fob list
run "$keydesk" user show alice

step "The audit log, and its check"
run "$keydesk" audit
run "$keydesk" audit verify

step "Where it all lives"
printf 'inventory:  %s\nmaster key: %s (keep a copy apart from the database)\n' \
	"$XDG_DATA_HOME/keydesk/keydesk.db" "$XDG_CONFIG_HOME/keydesk/master.key"
