#!/usr/bin/env bash
# Run tools/oclgrind_workload.py under Oclgrind, which simulates every work-item of every kernel and
# checks every memory access: out-of-bounds reads and writes, data races (--data-races), barrier
# divergence, and invalid OpenCL API calls (--check-api). Two runs:
#   default tuning on the 'cpu' device (host memory; CPU kernel variants: vector lanes, tiled
#   strided elementwise, the 'vec' GEMM), and
#   CLTENSOR_TUNING=gpu on 'cl:0' (device memory; GPU variants: work-group reductions, untiled
#   strided elementwise, the 'tiled' GEMM).
# Fails (exit 1) on any Oclgrind report, and on any failed check of the workload (exit 1 as well);
# the last line is a summary. Needs `apt-get install oclgrind` and cltensor's own dependencies.
#
#   bash tools/oclgrind_check.sh [extra oclgrind options, e.g. --max-errors 50]
#
# Oclgrind's quick mode (-q/--quick) would skip all but the first and last work-group: never use it.
# Environment: PYTHON (default python3); OCLGRIND_CHECK_KEEP=1 keeps the logs of a passing run too.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
for arg in "$@"; do
    case "$arg" in
        -q|--quick) echo "oclgrind_check: refusing $arg (Oclgrind's quick mode skips work-groups)"; exit 2 ;;
    esac
done
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "oclgrind_check: FAIL: oclgrind is not installed (apt-get install oclgrind)"
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cltensor-oclgrind.XXXXXX")
# a cache of its own: no rendered source or program binary from another driver is reused
export CLTENSOR_CACHE_DIR="$work/cache" CLTENSOR_NO_BINARY_CACHE=1 CLTENSOR_AUTOTUNE=0  # a GEMM search under the simulator would take hours
unset CLTENSOR_DEVICE CLTENSOR_PROFILE CLTENSOR_MEMORY_LIMIT
# Oclgrind messages that can reach stderr (API errors always do; kernel errors do without --log)
pattern='Oclgrind|OCLGRIND|Invalid (read|write)|data race|[Uu]ninitiali[sz]ed|divergence|Unaligned|out of bounds|Atomic '

started=$SECONDS
failures=()
total_reports=0
for run in "cpu cpu" "gpu cl:0"; do
    read -r tuning device <<<"$run"
    log="$work/oclgrind-$tuning.log"
    out="$work/workload-$tuning.out"
    err="$work/stderr-$tuning.txt"
    : >"$log"
    t0=$SECONDS
    echo "oclgrind_check: CLTENSOR_TUNING=$tuning, device $device: oclgrind --data-races --check-api $* ..."
    (cd "$root" && CLTENSOR_TUNING=$tuning oclgrind --data-races --check-api --log "$log" "$@" \
        "$python" tools/oclgrind_workload.py --device "$device" --expect-platform Oclgrind) >"$out" 2>"$err"
    rc=$?
    grep -v '^  ' "$out" | sed 's/^/    /'
    # every non-blank line of the log is Oclgrind's; a report starts at column 0
    log_reports=$(grep -c '^[^[:space:]]' "$log")
    err_reports=$(grep -Ec "$pattern" "$err")
    reports=$((log_reports + err_reports))
    total_reports=$((total_reports + reports))
    echo "oclgrind_check: $tuning tuning: workload exit $rc, $reports Oclgrind report(s), $((SECONDS - t0)) s"
    if [ "$reports" -gt 0 ]; then
        failures+=("$tuning tuning: $reports Oclgrind report(s)")
        if [ "$log_reports" -gt 0 ]; then
            echo "---- Oclgrind reports ($tuning tuning), by kind and kernel:"
            awk '/^[^[:space:]]/ {kind=$0; sub(/ at .*/, "", kind)} /^\tKernel:/ {print "  " kind " in " $2}' "$log" \
                | sort | uniq -c | sort -rn
            echo "---- the first reports in full ($log):"
            head -n 150 "$log"
        fi
        if [ "$err_reports" -gt 0 ]; then
            echo "---- Oclgrind lines on stderr ($err):"
            grep -E -A4 "$pattern" "$err" | head -n 80
        fi
    fi
    if [ "$rc" -ne 0 ]; then
        failures+=("$tuning tuning: workload exit $rc")
        echo "---- workload output ($out):"
        tail -n 60 "$out"
        echo "---- stderr ($err):"
        tail -n 40 "$err"
    fi
done

elapsed=$((SECONDS - started))
if [ "${#failures[@]}" -gt 0 ]; then
    rm -rf "$work/cache"
    echo "oclgrind_check: logs kept in $work"
    echo "oclgrind_check: FAIL: $(IFS=';'; echo "${failures[*]}") [$total_reports report(s), ${elapsed} s]"
    exit 1
fi
if [ -n "${OCLGRIND_CHECK_KEEP:-}" ]; then
    rm -rf "$work/cache"
    echo "oclgrind_check: logs kept in $work"
else
    rm -rf "$work"
fi
echo "oclgrind_check: PASS: no Oclgrind report and every workload check passed, cpu and gpu tuning [${elapsed} s]"
