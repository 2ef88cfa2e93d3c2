# Sourced by the scripts: `within SECONDS COMMAND...` runs COMMAND with a deadline (TERM at
# SECONDS, KILL 10 s later) and, when it is reached, says which command did not finish in time.
# Nothing a script starts may wait forever.
within() {
    local seconds=$1 status=0
    shift
    timeout --kill-after=10 "$seconds" "$@" || status=$?
    if ((status == 124 || status == 137)); then
        echo "$(basename "$0"): '$*' did not finish within ${seconds}s and was stopped" >&2
    fi
    return "$status"
}
