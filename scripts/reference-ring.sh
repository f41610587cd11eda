#!/usr/bin/env bash
# The spec's reference set-up (one xterm per peer) made for tmux: the seven peers of Figure 1,
# each in its own window of the tmux session "cdht", all sharing the current directory.
#
#   scripts/reference-ring.sh [PING_INTERVAL] [extra cdht options...]
#   scripts/reference-ring.sh 30
#   scripts/reference-ring.sh 1 --base-port 30000 --no-ping-lines
#   CDHT_TMUX_LAYOUT=panes scripts/reference-ring.sh 5    # all seven in one tiled window
set -euo pipefail

SESSION=cdht
INTERVAL=${1:-30}
if [ "$#" -gt 0 ]; then shift; fi
EXTRA=("$@")
LAYOUT=${CDHT_TMUX_LAYOUT:-windows}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cli="$repo/bin/cdht.js"

die() {
  echo "reference-ring.sh: $*" >&2
  exit 1
}

command -v tmux >/dev/null 2>&1 ||
  die "tmux is not installed (try: sudo apt-get install tmux), or start each peer by hand in its own terminal: node $cli init 2 4 5 $INTERVAL"
command -v node >/dev/null 2>&1 || die "node is not on the PATH (cdht needs Node.js 20 or later)"
[ -f "$repo/dist/src/cli/main.js" ] || die "cdht is not built yet: run 'npm install' (or 'npm run build') in $repo"
[[ $INTERVAL =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]] && awk -v s="$INTERVAL" 'BEGIN { exit !(s > 0) }' ||
  die "PING_INTERVAL must be a number of seconds greater than 0 (got '$INTERVAL')"
case "$LAYOUT" in windows | panes) ;; *) die "CDHT_TMUX_LAYOUT must be 'windows' or 'panes' (got '$LAYOUT')" ;; esac
if tmux has-session -t "=$SESSION" 2>/dev/null; then
  die "a tmux session named '$SESSION' is already running; stop it first: tmux kill-session -t $SESSION"
fi

# Figure 1: peer, first successor, second successor.
RING=("2 4 5" "4 5 8" "5 8 9" "8 9 14" "9 14 19" "14 19 2" "19 2 4")

peer_command() {
  local id=$1 s1=$2 s2=$3 cmd
  cmd=$(printf '%q ' node "$cli" init "$id" "$s1" "$s2" "$INTERVAL" ${EXTRA[@]+"${EXTRA[@]}"})
  # A banner says which peer this is; once the peer ends (Quit, Ctrl+C, a failure) its window
  # stays open with the exit code until Enter is pressed, so its last lines can still be read.
  printf 'printf "%%s\\n" %q; %s; code=$?; printf "\\n[Peer %s exited with code %%s; press Enter to close]\\n" "$code"; read -r _' \
    "== Peer $id (successors $s1, $s2): type Store NNNN, Request NNNN or Quit ==" "$cmd" "$id"
}

first=1
for entry in "${RING[@]}"; do
  read -r id s1 s2 <<<"$entry"
  cmd=$(peer_command "$id" "$s1" "$s2")
  if [ "$first" = 1 ]; then
    tmux new-session -d -s "$SESSION" -n "peer-$id" -c "$PWD" -x 200 -y 50 "$cmd"
    first=0
  elif [ "$LAYOUT" = panes ]; then
    tmux split-window -t "$SESSION:peer-2" -c "$PWD" "$cmd"
    tmux select-layout -t "$SESSION:peer-2" tiled >/dev/null
  else
    tmux new-window -d -t "$SESSION" -n "peer-$id" -c "$PWD" "$cmd"
  fi
done
if [ "$LAYOUT" = panes ]; then tmux rename-window -t "$SESSION:peer-2" ring; fi

cat <<EOF
Started the reference ring (peers 2 4 5 8 9 14 19, ping interval $INTERVAL s) in tmux session '$SESSION',
sharing the data directory $PWD.
  attach:  tmux attach -t $SESSION
           then Ctrl+b n / Ctrl+b p for the next / previous peer (Ctrl+b o for the next pane),
           type Store NNNN, Request NNNN or Quit, and Ctrl+C for an abrupt departure
  join:    tmux new-window -t $SESSION -n peer-15 "node $cli join 15 4 $INTERVAL${EXTRA[*]+ ${EXTRA[*]}}"
  stop:    tmux kill-session -t $SESSION
EOF
