#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 180) each, starting from the
# committed seeds. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a
# stable toolchain RUSTC_BOOTSTRAP=1 unlocks the sanitizer flags it uses.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-180}
export RUSTC_BOOTSTRAP=1
for target in query zonefile named_conf defences message tsig backend_answer console rules; do
    mkdir -p "corpus/$target"
    [ -d "seeds/$target" ] && cp -n seeds/$target/* "corpus/$target/" 2>/dev/null || true
    echo "== $target for ${secs}s"
    cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$secs" -max_len=4096 -rss_limit_mb=4096 2>&1 |
        grep -E "^#[0-9]+ *(DONE|pulse)|SUMMARY|ERROR|panicked|Done" | tail -3
done
