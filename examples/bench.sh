#!/usr/bin/env bash
# The benchmark: runs the load generator (examples/loadgen/) through the
# scenarios of the performance issue and prints a markdown table of the
# results.
#
#   examples/bench.sh [--quick | --runs N] [--only LIST] [--interleave] [--ab REV] [RESULTS_FILE]
#   examples/bench.sh --list
#
# Every run gets a fresh server (examples/bench.toml, a free port) started in
# a temporary directory of its own, so no run inherits another's history
# file, queues or memory. Each scenario runs 3 times (--quick: once;
# --runs N: N times); the table shows the median of the runs and, in
# parentheses, their min-max. Every line the generator printed on stdout
# (RESULT, STEP, note) goes to RESULTS_FILE (default bench-results.txt in
# the current directory, which is overwritten), under a `# scenario: ...`
# line naming the scenario and run.
#
#   --list       print the scenarios, numbered, and stop
#   --only LIST  run only these scenarios: numbers from --list, separated
#                by commas (--only 6,8)
#   --interleave run the scenarios in rounds, one run of each a round,
#                rather than all runs of one before the next: scenarios
#                compared with each other in one sitting (--only 2,10, a
#                terminal against a browser receiver) then alternate, and
#                a quieter or busier spell of the machine falls on both
#
# A/B mode, to measure a change: `--ab REV` (any git revision: main~3, a
# branch, a commit) compares the server of that revision ("old") with the
# one in this working tree, uncommitted changes included ("new"). The old
# one's files are taken with `git archive` into a temporary directory and
# built there, with a target directory of its own. Both are driven by this
# working tree's load generator and read its examples/bench.toml, so that
# only the server's code differs (an old server that refuses a setting
# newer than itself gets the bench.toml of its own revision, and the script
# says so). Every scenario runs old and new in turn, in pairs, old first in
# odd runs and new first in even ones so that neither always has the
# machine first: at least 3 runs of each (--quick is refused). A table then
# gives, per scenario, the old and new medians of the main figures and
# their ratio new/old. The temporary directory is removed at the end,
# however the script ends.
#
#   examples/bench.sh --ab main~3                 # every scenario, 3 + 3 runs
#   examples/bench.sh --ab main --only 6,8 --runs 5
#
# It takes about 12 minutes on two cores (3 with --quick; twice as long, and
# a build, with --ab). The generator and the server share the machine, so
# leave it otherwise idle meanwhile; the generator's share of the CPU is in
# the table, to show how much it took. All traffic goes to 127.0.0.1.
#
# Needs bash, cargo, git, tar and python3 (standard library only, for the
# table).

set -uo pipefail

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
}

# The scenarios, named as in the issues: name, then the generator's flags.
# Numbers 6 to 8 are the slow-reader comparison: the same load without a
# client that never reads, with one that stays, and with a stream of new
# ones (8 a second, at most 16 open at a time). The last two are scenario 2
# with the 90 receiving clients on the other ways in, IRC and the web page's
# event stream (the 10 senders stay terminal clients): `--only 2,9,10`
# compares the three ways in, in one sitting. The script reads the server's
# `web on` and `irc on` lines and gives the generator both ports.
scenarios=(
    "10 clients, 2 senders, max rate|--clients 10 --senders 2 --max-rate --rate 8000 --factor 1.5 --secs 3"
    "100 clients, 10 senders, max rate|--clients 100 --senders 10 --max-rate --rate 1000 --factor 1.5 --secs 3"
    "1000 clients, 10 senders, 100 msgs/s|--clients 1000 --senders 10 --rate 100 --secs 10"
    "1000 clients, 10 senders, max rate|--clients 1000 --senders 10 --max-rate --rate 100 --factor 1.5 --secs 3"
    "10 000 idle clients|--clients 10000 --idle"
    "100 clients, 10 senders, 2000 msgs/s|--clients 100 --senders 10 --rate 2000 --secs 10"
    "100 clients, 10 senders, 2000 msgs/s, with 1 stalled reader|--clients 100 --senders 10 --rate 2000 --secs 10 --stalled 1"
    "100 clients, 10 senders, 2000 msgs/s, with 8 new stalled readers a second|--clients 100 --senders 10 --rate 2000 --secs 10 --stalled-churn 8"
    "100 clients, 10 senders, max rate, IRC receivers|--clients 100 --senders 10 --max-rate --rate 1000 --factor 1.5 --secs 3 --receivers irc"
    "100 clients, 10 senders, max rate, SSE receivers|--clients 100 --senders 10 --max-rate --rate 1000 --factor 1.5 --secs 3 --receivers sse"
)

runs=""
quick=0
only=""
ab_rev=""
results=""
interleave=0
while (($# > 0)); do
    arg="$1"
    shift
    case "$arg" in
        --quick) quick=1 ;;
        --interleave) interleave=1 ;;
        --list)
            for i in "${!scenarios[@]}"; do
                echo "$((i + 1)). ${scenarios[$i]%%|*}"
            done
            exit 0
            ;;
        --runs | --only | --ab)
            if (($# == 0)); then
                echo "error: $arg needs a value (try --help)" >&2
                exit 2
            fi
            case "$arg" in
                --runs) runs="$1" ;;
                --only) only="$1" ;;
                --ab) ab_rev="$1" ;;
            esac
            shift
            ;;
        --runs=*) runs="${arg#*=}" ;;
        --only=*) only="${arg#*=}" ;;
        --ab=*) ab_rev="${arg#*=}" ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
        *)
            if [[ -n "$results" ]]; then
                echo "error: more than one results file given" >&2
                exit 2
            fi
            results="$arg"
            ;;
    esac
done

if [[ -n "$runs" ]]; then
    if ((quick)); then
        echo "error: --quick and --runs say the same thing twice; give one" >&2
        exit 2
    fi
    if ! [[ "$runs" =~ ^[1-9][0-9]{0,2}$ ]]; then
        echo "error: --runs takes a number of runs from 1 to 999" >&2
        exit 2
    fi
else
    runs=$((quick ? 1 : 3))
fi
if [[ -n "$ab_rev" ]] && ((runs < 3)); then
    echo "error: an A/B comparison needs at least 3 runs of each side (no --quick)" >&2
    exit 2
fi

# --only: keep the scenarios whose numbers are listed.
if [[ -n "$only" ]]; then
    chosen=()
    IFS=, read -r -a numbers <<<"$only"
    for number in "${numbers[@]}"; do
        if ! [[ "$number" =~ ^[0-9]+$ ]] || ((number < 1 || number > ${#scenarios[@]})); then
            echo "error: --only: no scenario $number (see --list)" >&2
            exit 2
        fi
        chosen+=("${scenarios[$((number - 1))]}")
    done
    if ((${#chosen[@]} == 0)); then
        echo "error: --only: no scenario given (see --list)" >&2
        exit 2
    fi
    scenarios=("${chosen[@]}")
fi

results="${results:-bench-results.txt}"
# The script works from the repository's root; keep the results file where
# the caller meant it.
case "$results" in
    /*) ;;
    *) results="$PWD/$results" ;;
esac

cd "$(dirname "$0")/.." || exit 1
repo="$PWD"
target="${CARGO_TARGET_DIR:-$repo/target}"
server_bin="$target/release/server"
loadgen_bin="$target/release/examples/loadgen"
config="$repo/examples/bench.toml"

# Every connection is a file descriptor, in the generator and in the server
# (which inherits this limit): 10 000 idle clients need more than the usual
# soft limit of 1024. Raise it to the hard limit, which needs no privilege.
hard_limit="$(ulimit -Hn)"
if ! ulimit -n "$hard_limit" 2>/dev/null; then
    echo "warning: cannot raise the open-file limit to $hard_limit" >&2
fi
if [[ "$(ulimit -n)" != unlimited && "$(ulimit -n)" -lt 10100 ]]; then
    echo "warning: the open-file limit is $(ulimit -n); the 10 000-client run will fail" >&2
fi

# The server of the current run, killed on the way out, however we leave;
# and in A/B mode the old revision's sources and build.
server_pid=""
server_dir=""
ab_dir=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
    if [[ -n "$server_dir" ]]; then
        rm -rf "$server_dir"
        server_dir=""
    fi
}
clean_up() {
    stop_server
    if [[ -n "$ab_dir" ]]; then
        rm -rf "$ab_dir"
        ab_dir=""
    fi
}
trap clean_up EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a fresh server (the binary $1 with the config $2) in a new
# temporary directory (its data/ lands there) and sets server_pid,
# server_port, and web_port and irc_port (empty for a listener that is off).
# `exec` makes the subshell become the server, so $! is the server's own pid.
start_server() {
    local bin="$1" server_config="$2"
    server_dir="$(mktemp -d "${TMPDIR:-/tmp}/lanchat-bench.XXXXXX")" || return 1
    (cd "$server_dir" && exec "$bin" --config "$server_config" --port 0) \
        </dev/null >"$server_dir/stdout" 2>"$server_dir/stderr" &
    server_pid=$!
    local first="" tries=0
    # Its first line on stdout is `listening on ADDRESS`; wait up to 10 s.
    while [[ -z "$first" ]]; do
        if ! kill -0 "$server_pid" 2>/dev/null || ((tries >= 200)); then
            echo "error: the server did not start:" >&2
            cat "$server_dir/stderr" >&2
            return 1
        fi
        sleep 0.05
        tries=$((tries + 1))
        IFS= read -r first <"$server_dir/stdout" || first=""
    done
    case "$first" in
        "listening on "*) server_port="${first##*:}" ;;
        *)
            echo "error: unexpected first line from the server: $first" >&2
            return 1
            ;;
    esac
    read_listeners
}

# The lines that follow `listening on`: `web on http://ADDRESS/` and
# `irc on ADDRESS`, printed at once for the listeners that are on (`irc on`
# last). Waits up to 1 s for them (an older server has neither), and sets
# web_port and irc_port.
read_listeners() {
    local line tries=0
    web_port=""
    irc_port=""
    while [[ -z "$irc_port" ]] && ((tries < 20)); do
        ((tries > 0)) && sleep 0.05
        tries=$((tries + 1))
        while IFS= read -r line; do
            case "$line" in
                "web on http://"*) line="${line%/}" && web_port="${line##*:}" ;;
                "irc on "*) irc_port="${line##*:}" ;;
            esac
        done < <(head -n 3 "$server_dir/stdout")
    done
}

# The value of KEY in a `RESULT key=value ...` line, or nothing.
field() {
    local key="$1" line="$2" word
    for word in $line; do
        if [[ "$word" == "$key="* ]]; then
            echo "${word#*=}"
            return
        fi
    done
}

# A/B mode: takes the files of revision $1 with `git archive` into a new
# temporary directory, builds its server there with a target directory of
# its own, and sets old_bin, old_config and old_name.
build_old() {
    local rev="$1" commit
    if ! commit="$(git rev-parse --verify --quiet "$rev^{commit}")"; then
        echo "error: --ab $rev: not a revision of this repository" >&2
        return 1
    fi
    old_name="$(git rev-parse --short "$commit")"
    if [[ "$old_name" != "$rev" ]]; then
        old_name="$rev ($old_name)"
    fi
    ab_dir="$(mktemp -d "${TMPDIR:-/tmp}/lanchat-ab.XXXXXX")" || return 1
    mkdir "$ab_dir/src" || return 1
    if ! git archive --format=tar "$commit" | tar -x -C "$ab_dir/src"; then
        echo "error: cannot take the files of $old_name" >&2
        return 1
    fi
    echo "building the server of $old_name..." >&2
    if ! cargo build --release --bin server \
        --manifest-path "$ab_dir/src/Cargo.toml" --target-dir "$ab_dir/target"; then
        echo "error: the server of $old_name did not build" >&2
        return 1
    fi
    old_bin="$ab_dir/target/release/server"
}

# A/B mode: the old server gets the current examples/bench.toml, so both
# sides have the same settings, unless it does not start with it (it refuses
# keys it does not know): then the bench.toml of its own revision. Sets
# old_config, and old_settings to say which it is.
choose_old_config() {
    old_config="$config"
    old_settings="the working tree's examples/bench.toml"
    if start_server "$old_bin" "$config" 2>/dev/null; then
        stop_server
        return 0
    fi
    stop_server
    old_config="$ab_dir/src/examples/bench.toml"
    old_settings="its own examples/bench.toml"
    if [[ -f "$old_config" ]] && start_server "$old_bin" "$old_config"; then
        echo "note: the server of $old_name cannot read examples/bench.toml;" \
            "it runs with the bench.toml of its own revision" >&2
        stop_server
        return 0
    fi
    stop_server
    echo "error: the server of $old_name does not start with examples/bench.toml" >&2
    return 1
}

# One run of one scenario: a fresh server (binary $4, config $5), the
# generator with the flags that follow, everything it printed appended to
# the results file under a `# scenario: $1 | run $2 | $3loadgen ...` line
# ($3 names the server in A/B mode, and is empty otherwise).
run_once() {
    local name="$1" run="$2" side="$3" bin="$4" server_config="$5"
    shift 5
    echo "$name: run $run${side:+, ${side% | }}" >&2
    echo "# scenario: $name | run $run | ${side}loadgen $*" >>"$results"
    if ! start_server "$bin" "$server_config"; then
        echo "# failed: the server did not start" >>"$results"
        stop_server
        return
    fi
    local out="$server_dir/loadgen.out" status result error summary key value
    # The other listeners' ports, for the scenarios whose receivers use them.
    local ports=()
    [[ -n "$web_port" ]] && ports+=(--web-port "$web_port")
    [[ -n "$irc_port" ]] && ports+=(--irc-port "$irc_port")
    "$loadgen_bin" --port "$server_port" "${ports[@]}" --server-pid "$server_pid" "$@" \
        >"$out" 2>"$server_dir/loadgen.err"
    status=$?
    cat "$out" >>"$results"
    result="$(grep '^RESULT ' "$out" | tail -n 1)"
    if ((status != 0)) || [[ -z "$result" ]]; then
        error="$(tail -n 1 "$server_dir/loadgen.err")"
        echo "  failed (exit $status): $error" >&2
        echo "# failed (exit $status): $error" >>"$results"
    else
        summary=""
        for key in deliveries_per_sec p99_ms lost stalled_closed churn_joined rss_kb join_secs \
            bcast_reached gen_cpu_machine_pct; do
            value="$(field "$key" "$result")"
            [[ -n "$value" ]] && summary+=" $key=$value"
        done
        echo " $summary" >&2
    fi
    stop_server
}

echo "building..." >&2
if ! cargo build --release --bins --examples; then
    echo "error: the build failed" >&2
    exit 1
fi
if [[ -n "$ab_rev" ]]; then
    build_old "$ab_rev" || exit 1
    choose_old_config || exit 1
fi

cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
machine="$(nproc) cores, Linux $(uname -r), ${cpu_model:-unknown CPU}"
{
    echo "# lanchat benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $runs run(s) per scenario"
    echo "# machine: $machine"
    if [[ -n "$ab_rev" ]]; then
        echo "# A/B: old = $old_name with $old_settings, new = the working tree"
    fi
} >"$results" || exit 1

# One run of one scenario (both servers' runs, in A/B mode).
run_scenario() {
    local scenario="$1" run="$2" name flags
    name="${scenario%%|*}"
    read -r -a flags <<<"${scenario#*|}"
    if [[ -z "$ab_rev" ]]; then
        run_once "$name" "$run of $runs" "" "$server_bin" "$config" "${flags[@]}"
    elif ((run % 2 == 1)); then
        run_once "$name" "$run of $runs" "server old | " "$old_bin" "$old_config" "${flags[@]}"
        run_once "$name" "$run of $runs" "server new | " "$server_bin" "$config" "${flags[@]}"
    else
        run_once "$name" "$run of $runs" "server new | " "$server_bin" "$config" "${flags[@]}"
        run_once "$name" "$run of $runs" "server old | " "$old_bin" "$old_config" "${flags[@]}"
    fi
}

if ((interleave)); then
    for ((run = 1; run <= runs; run++)); do
        for scenario in "${scenarios[@]}"; do
            run_scenario "$scenario" "$run"
        done
    done
else
    for scenario in "${scenarios[@]}"; do
        for ((run = 1; run <= runs; run++)); do
            run_scenario "$scenario" "$run"
        done
    done
fi

echo
echo "Machine: $machine. Generator and server on the same machine."
echo
old_label=""
if [[ -n "$ab_rev" ]]; then
    old_label="$old_name, with $old_settings"
fi
python3 - "$results" "$old_label" <<'PYTHON'
import statistics
import sys

# old_label names the old server in A/B mode, and is empty otherwise.
path, old_label = sys.argv[1], sys.argv[2]

# Group the RESULT lines by the `# scenario: NAME | run ... | [server SIDE |]
# loadgen ...` line above them, and in A/B mode by side as well.
order, results, failures = [], {}, {}
key = None
with open(path) as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("# scenario: "):
            parts = line[len("# scenario: "):].split(" | ")
            side = next((p[len("server "):] for p in parts if p.startswith("server ")), "")
            key = (parts[0], side)
            if parts[0] not in order:
                order.append(parts[0])
            results.setdefault(key, [])
            failures.setdefault(key, 0)
        elif line.startswith("# failed") and key:
            failures[key] += 1
        elif line.startswith("RESULT ") and key:
            fields = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
            results[key].append(fields)

def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None

def show(x, decimals):
    return f"{x:,.{decimals}f}".replace(",", " ")

def values(rows, key):
    return [v for v in (number(r.get(key)) for r in rows) if v is not None]

def median_of(rows, key):
    found = values(rows, key)
    return statistics.median(found) if found else None

def cell(rows, key, decimals=0):
    """The median of the runs, then (min-max) when there are several."""
    found = values(rows, key)
    if not found:
        return "-"
    median = show(statistics.median(found), decimals)
    if len(found) == 1:
        return median
    return f"{median} ({show(min(found), decimals)}–{show(max(found), decimals)})"

def ran(key):
    count = f"{len(results[key])}"
    return count + (f" ({failures[key]} failed)" if failures[key] else "")

def is_idle(rows):
    return any(r.get("mode") == "idle" for r in rows)

columns = [
    ("deliveries/s", "deliveries_per_sec", 0),
    ("p99 ms", "p99_ms", 2),
    ("lost", "lost", 0),
    ("rss KB", "rss_kb", 0),
    ("join s", "join_secs", 2),
    ("bcast reached", "bcast_reached", 0),
    ("gen CPU % of machine", "gen_cpu_machine_pct", 0),
]
idle_only = {"rss_kb", "join_secs", "bcast_reached"}

def plain_table():
    print("| scenario | runs | " + " | ".join(c[0] for c in columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for name in order:
        rows = results[(name, "")]
        cells = []
        for _, key, decimals in columns:
            if key in idle_only and not is_idle(rows):
                cells.append("")
            else:
                cells.append(cell(rows, key, decimals))
        print(f"| {name} | {ran((name, ''))} | " + " | ".join(cells) + " |")
    print()
    print("Max rate: the best step that passed (nothing lost, p99 at most 100 ms). "
          "Idle: p99 is the one broadcast's, over the clients it reached.")
    slow_readers()

def slow_readers():
    """The slow-reader promise: with clients that never read, the others'
    p99 stays within 2x of the same run without them."""
    plain = [n for n in order if n.startswith("100 clients, 10 senders, 2000") and "stalled" not in n]
    if not plain:
        return
    base = median_of(results[(plain[0], "")], "p99_ms")
    for name in [n for n in order if "stalled" in n]:
        rows = results[(name, "")]
        slow = median_of(rows, "p99_ms")
        churn = any("stalled_churn" in r for r in rows)
        if churn:
            label, who = "Stalled churn", "new stalled readers arriving"
            joined = sum(int(number(r.get("churn_joined")) or 0) for r in rows)
            cut = f"{joined} of them joined in {len(rows)} run(s)"
        else:
            label, who = "Slow reader", "a stalled reader"
            closed = sum(int(number(r.get("stalled_closed")) or 0) for r in rows)
            cut = f"the server cut off the stalled reader in {closed} of {len(rows)} run(s)"
        print()
        if base and slow is not None:
            verdict = "within" if slow <= 2 * base else "NOT within"
            print(f"{label}: p99 {show(slow, 2)} ms with {who} against "
                  f"{show(base, 2)} ms without, {slow / base:.2f}×: {verdict} 2×; {cut}.")
        else:
            print(f"{label}: no p99 to compare; {cut}.")

def ab_table():
    figures = [
        ("deliveries/s", "deliveries_per_sec", 0),
        ("p99 ms", "p99_ms", 2),
        ("rss KB", "rss_kb", 0),
        ("join s", "join_secs", 2),
    ]
    print(f"Old: {old_label}. New: the working tree. Medians of the runs, min–max in "
          "parentheses; the ratio is new/old (above 1: more deliveries, or more "
          "latency and memory).")
    print()
    print("| scenario | figure | runs old / new | old | new | new/old |")
    print("|---|---|---:|---:|---:|---:|")
    for name in order:
        old, new = results.get((name, "old"), []), results.get((name, "new"), [])
        runs_cell = f"{ran((name, 'old'))} / {ran((name, 'new'))}"
        shown = False
        for label, key, decimals in figures:
            if key in ("rss_kb", "join_secs") and not is_idle(old + new):
                continue
            a, b = median_of(old, key), median_of(new, key)
            if a is None and b is None:
                continue
            ratio = f"{b / a:.2f}×" if a and b is not None else "-"
            print(f"| {name} | {label} | {runs_cell} | {cell(old, key, decimals)} | "
                  f"{cell(new, key, decimals)} | {ratio} |")
            shown = True
        if not shown:
            print(f"| {name} | - | {runs_cell} | - | - | - |")
    print()
    print("Max rate: the best step that passed, so its deliveries/s move in steps "
          "of the rate ladder. Idle: p99 is the one broadcast's.")

if old_label:
    ab_table()
else:
    plain_table()
PYTHON
echo
echo "Every line the generator printed is in $results"
