#!/usr/bin/env bash
# Soak run (not in CI): a private Prosody, the talkgroups binary, 200
# members of one group of which a fifth go offline and come back (catch-up),
# 50 messages a second from 5 of them, and a send route to a local sink.
# Every SOAK_SAMPLE_SECS it prints a table row and a `SOAK_JSON {...}` line
# with the component's RSS (/proc/PID/status VmRSS), open descriptors
# (/proc/PID/fd), outbox depth (/metrics talkgroups_outbox_depth), the
# messages sent, delivered to the sink and received by members so far, and
# Prosody's RSS (what members send waits there when the component holds
# back).
#
#   scripts/soak.sh                                # an hour, release build
#   SOAK_SECS=600 SOAK_SAMPLE_SECS=60 scripts/soak.sh
#
# Knobs: SOAK_SECS (3600), SOAK_SAMPLE_SECS (60), SOAK_RATE (50 msg/s),
# SOAK_MEMBERS (200), SOAK_SEED (1), SOAK_PROFILE (release | debug),
# SOAK_MULTICAST (0; 1: relayed messages go through Prosody's XEP-0033
# module from contrib/prosody, one stanza per message, as the README
# recommends for big groups on Prosody).
# Everything listens on 127.0.0.1 only and runs in temporary directories;
# the only processes started are the test's own Prosody and talkgroups
# (stopped by PID when it ends). The test itself is
# `cargo test --test chaos soak -- --ignored` (tests/chaos.rs).
set -euo pipefail

cd "$(dirname "$0")/.."
profile="${SOAK_PROFILE:-release}"
case "$profile" in
release) flag="--release" ;;
debug) flag="" ;;
*)
    echo "SOAK_PROFILE must be release or debug" >&2
    exit 2
    ;;
esac
mkdir -p target/soak-results
out="target/soak-results/$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "== soak: ${SOAK_SECS:-3600} s, sample every ${SOAK_SAMPLE_SECS:-60} s ($profile); output also in $out" >&2
# shellcheck disable=SC2086
cargo test $flag --test chaos soak -- --ignored --exact --nocapture 2>&1 | tee "$out"
