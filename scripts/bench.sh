#!/bin/sh
# Runs every talkgroups benchmark (see BENCHMARKS.md): builds the release
# binary once, then the component-alone runs (fan-out at 10/100/1000/10000
# members, fixed 1000 msg/s at 100 members, start-up with 100 000 members),
# inbound bridge events per second and their answer times (each platform),
# the core's memory per member, the serialization micro-benchmark and, when `prosody` / `ejabberd` are
# installed, the end-to-end comparisons with the server's own MUC (50 and
# 200 clients; on each also with component.multicast, XEP-0033, through
# ejabberd's mod_multicast or contrib/prosody's mod_talkgroups_multicast),
# and the multicast comparison once more at a fixed offered rate (open
# loop: the server's CPU share per system at the same load).
# JSON lines go to stdout and to
# target/bench-results/<UTC time>.jsonl; progress goes to stderr.
#
#   scripts/bench.sh              # everything, about 6 minutes on 2 cores
#   scripts/bench.sh --callgrind  # also instruction counts under valgrind
#                                 # (repeatable): per relayed copy in
#                                 # talkgroups, and Prosody's per delivered
#                                 # copy in each e2e phase (+ about 2½ min)
#
# Everything listens on 127.0.0.1 only and runs in temporary directories;
# the only processes started are the talkgroups binaries the benchmark
# spawns itself (stopped by PID at the end of each run).
set -eu

cd "$(dirname "$0")/.."
callgrind=no
for arg in "$@"; do
    case "$arg" in
    --callgrind) callgrind=yes ;;
    *)
        echo "usage: $0 [--callgrind]" >&2
        exit 2
        ;;
    esac
done

mkdir -p target/bench-results
results="target/bench-results/$(date -u +%Y%m%dT%H%M%SZ).jsonl"

echo "== building (release)" >&2
cargo build --release --quiet
cargo bench --no-run --quiet --bench fanout --bench serialize --bench e2e --bench memory --bench bridge --bench api 2>/dev/null ||
    cargo bench --no-run --bench fanout --bench serialize --bench e2e --bench memory --bench bridge --bench api
bin="$PWD/target/release/talkgroups"

echo "== component alone: fan-out, fixed load, start-up" >&2
TALKGROUPS_BIN="$bin" cargo bench --quiet --bench fanout -- all | tee -a "$results"

echo "== bridges: inbound platform events through one bridge to 100 members" >&2
TALKGROUPS_BIN="$bin" cargo bench --quiet --bench bridge | tee -a "$results"

echo "== the API: GET …/messages?limit=1000 on a 1 000 000-row history" >&2
TALKGROUPS_BIN="$bin" cargo bench --quiet --bench api | tee -a "$results"

echo "== the core's memory per member (counted allocations)" >&2
cargo bench --quiet --bench memory | tee -a "$results"

echo "== serialization micro-benchmark" >&2
cargo bench --quiet --bench serialize | tee -a "$results"

if command -v "${PROSODY_BIN:-prosody}" >/dev/null; then
    echo "== end to end: talkgroups vs Prosody MUC through a private Prosody" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e | tee -a "$results"
    echo "== the same with component.multicast through contrib/prosody's mod_talkgroups_multicast" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --multicast | tee -a "$results"
    echo "== the same at a fixed offered rate (≈ 5 000 copies/s, below Prosody's saturation)" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --multicast --members 50 --rate 100 | tee -a "$results"
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --multicast --members 200 --rate 25 | tee -a "$results"
else
    echo "== end to end skipped: prosody not installed (apt-get install -y prosody)" >&2
fi
if command -v "${EJABBERDCTL_BIN:-ejabberdctl}" >/dev/null; then
    echo "== end to end: talkgroups vs ejabberd's mod_muc through a private ejabberd" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --server ejabberd | tee -a "$results"
    echo "== the same with component.multicast: one XEP-0033 stanza per message" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --server ejabberd --multicast | tee -a "$results"
    echo "== the same at a fixed offered rate (≈ 20 000 copies/s)" >&2
    TALKGROUPS_BIN="$bin" cargo bench --quiet --bench e2e -- --server ejabberd --multicast --members 200 --rate 100 | tee -a "$results"
else
    echo "== ejabberd end to end skipped: ejabberd not installed" >&2
fi

if [ "$callgrind" = yes ]; then
    command -v valgrind >/dev/null || {
        echo "valgrind not installed" >&2
        exit 1
    }
    echo "== callgrind: instructions per relayed copy (1000 members)" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # A wrapper the fan-out bench starts instead of the binary; `check`
    # (database creation) runs natively.
    cat >"$tmp/wrap.sh" <<EOF
#!/bin/sh
if [ "\$1" = check ]; then exec "$bin" "\$@"; fi
exec valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.\$CG_TAG.%p" -- "$bin" "\$@"
EOF
    chmod +x "$tmp/wrap.sh"
    for m in 30 150; do
        CG_TAG=$m TALKGROUPS_BIN="$tmp/wrap.sh" \
            cargo bench --quiet --bench fanout -- fanout --members 1000 --messages $m >/dev/null
    done
    # The bench starts the binary twice (an idle process for the RSS
    # baseline, then the measured one): the larger count is the run.
    ir() { cat "$tmp"/cg."$1".* | sed -n 's/^summary: //p' | sort -n | tail -1; }
    a=$(ir 30)
    b=$(ir 150)
    per=$(((b - a) / (120 * 999)))
    line="{\"bench\":\"callgrind_fanout\",\"members\":1000,\"ir_30_messages\":$a,\"ir_150_messages\":$b,\"ir_per_copy\":$per}"
    echo "$line" | tee -a "$results"

    if command -v "${PROSODY_BIN:-prosody}" >/dev/null; then
        echo "== callgrind: Prosody instructions per delivered copy (50 clients)" >&2
        # Prosody is a Lua script: run its interpreter under valgrind. The
        # e2e bench dumps (and zeroes) the counters around each phase.
        prosody=$(command -v "${PROSODY_BIN:-prosody}")
        lua=$(sed -n '1s/^#! *//p' "$prosody")
        case "$lua" in # "/usr/bin/env lua5.4": valgrind must run lua itself
        */env\ *) lua=$(command -v "${lua#*/env }") ;;
        esac
        mkdir -p "$tmp/pcg"
        cat >"$tmp/prosody.sh" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$tmp/pcg/cg.%p" -- $lua "$prosody" "\$@"
EOF
        chmod +x "$tmp/prosody.sh"
        E2E_CALLGRIND_DUMP=1 PROSODY_BIN="$tmp/prosody.sh" TALKGROUPS_BIN="$bin" \
            cargo bench --quiet --bench e2e -- --members 50 --messages 100 --rounds 1 --warmup 0 >/dev/null 2>&1
        # Dumps 2, 4, 6, 8 hold the talkgroups, MUC, raw and minimal-raw
        # phases; 100 messages of 49 copies to others each.
        pid=$(ls "$tmp/pcg" | sed -n 's/^cg\.\([0-9]*\)$/\1/p')
        per() { echo $(($(sed -n 's/^summary: //p' "$tmp/pcg/cg.$pid.$1") / 4900)); }
        line="{\"bench\":\"callgrind_e2e_prosody\",\"members\":50,\"ir_per_copy_talkgroups\":$(per 2),\"ir_per_copy_muc\":$(per 4),\"ir_per_copy_raw_component\":$(per 6),\"ir_per_copy_raw_minimal\":$(per 8)}"
        echo "$line" | tee -a "$results"
    fi
fi
echo "== results in $results" >&2
