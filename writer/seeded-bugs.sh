#!/usr/bin/env bash
# Shows that the loom model has teeth: builds the writer once per seeded bug
# (RELIABILITY.md row C1) and expects the loom tests to FAIL for each.
#
#   writer/seeded-bugs.sh            # all seven
#   writer/seeded-bugs.sh dropped_sync_flag
#
# Exits 0 only if every bug builds and is caught. Each variant is a separate
# build (RUSTFLAGS differ), so the first run of each takes a while.
set -u
cd "$(dirname "$0")/.."

bugs=("$@")
if [ ${#bugs[@]} -eq 0 ]; then
    bugs=(ack_after_unlock follower_ok_after_error dropped_sync_flag seq_reuse_after_error
          ack_before_sync publish_after_hand_off failed_sync_covers_later_groups)
fi
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"

status=0
for bug in "${bugs[@]}"; do
    export RUSTFLAGS="--cfg loom"
    feature="seeded_bug_$bug"
    # A variant that does not build would "fail" for the wrong reason.
    if ! cargo test -p tributary-writer --test loom --release --features "$feature" --no-run -q; then
        echo "seeded bug $bug: does not build"
        status=1
        continue
    fi
    start=$(date +%s)
    if cargo test -p tributary-writer --test loom --release --features "$feature" -q >/dev/null 2>&1; then
        echo "seeded bug $bug: NOT caught"
        status=1
    else
        echo "seeded bug $bug: caught ($(( $(date +%s) - start )) s)"
    fi
done
exit $status
