# Helpers shared by lab/up and lab/down (sourced, not run).

# Prints the pid recorded in a pid file when that process is alive and its command line contains
# the marker, so that a stale pid file never names (and lab/down never stops) someone else's
# process that got the same pid.
running_pid() {
  local file=$1 marker=$2 pid
  [ -s "$file" ] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# Succeeds when something accepts TCP connections on the address and port.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Stops the process a pid file names: SIGTERM, then SIGKILL if it is still there after 5 s.
stop() {
  local name=$1 pidfile=$2 marker=$3 pid
  if pid=$(running_pid "$pidfile" "$marker"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      running_pid "$pidfile" "$marker" >/dev/null || break
      sleep 0.1
    done
    if running_pid "$pidfile" "$marker" >/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "$name: stopped"
  fi
  rm -f "$pidfile"
}

# Holds lab/.run/lock until the script exits, so that two lab/up or lab/down runs at the same time
# (two people on one machine) do not both start, or stop, the same servers.
lab_lock() {
  exec 9>"$RUN/lock"
  flock 9
}
