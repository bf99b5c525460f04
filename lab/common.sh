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
