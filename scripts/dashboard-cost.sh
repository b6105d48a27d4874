#!/bin/bash
# The dashboard's own cost on a large runs directory, as a user meets it in tmux at 160×50:
# first frame, time to read every run, key presses redrawn, CPU idle and while two runs train.
# Usage: scripts/dashboard-cost.sh [COPIES]   (default 96: 96 × the 21 runs of experiments/results = 2,016)
# Needs tmux and a release build (.build/release/adderlab). Writes only under a temporary directory.
set -e
cd "$(dirname "$0")/.."
B=$PWD/.build/release/adderlab
copies=${1:-96}
work=$(mktemp -d)
trap 'tmux kill-session -t cost 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/runs" "$work/exp"
for k in $(seq 1 "$copies"); do for d in experiments/results/*/; do cp -r "$d" "$work/runs/$(basename "$d")-c$k"; done; done
cp experiments/quickstart.yaml "$work/exp/"
n=$(ls "$work/runs" | wc -l)
cpu() { awk '{print $14+$15}' "$1"; }   # user + system ticks (1/100 s)

t0=$(date +%s.%N)
tmux new-session -d -s cost -x 160 -y 50 "TERM=xterm-256color $B --runs-dir $work/runs --experiments-dir $work/exp --no-quickstart --parallel 2"
until tmux capture-pane -p -t cost | grep -q "AdderLab"; do sleep 0.01; done
echo "first frame: $(echo "$(date +%s.%N) - $t0" | bc) s"
until tmux capture-pane -p -t cost | grep -q "read $n run directories"; do sleep 0.05; done
echo "all $n read: $(echo "$(date +%s.%N) - $t0" | bc) s"
pid=$(pgrep -f "^$B --runs-dir $work/runs" | head -1)
for _ in 1 2 3 4 5; do
  before=$(tmux capture-pane -p -t cost | tail -1)
  s=$(date +%s.%N); tmux send-keys -t cost o
  while [ "$(tmux capture-pane -p -t cost | tail -1)" == "$before" ]; do :; done
  echo "key o redrawn in $(echo "($(date +%s.%N) - $s) * 1000" | bc) ms (including tmux's capture)"
done
a=$(cpu /proc/$pid/stat); sleep 10; b=$(cpu /proc/$pid/stat)
echo "idle: $(echo "($b - $a) / 10" | bc -l | cut -c1-5) % of a core"
tmux send-keys -t cost C; sleep 1
a=$(cpu /proc/$pid/stat); sleep 10; b=$(cpu /proc/$pid/stat)
echo "every group compared: $(echo "($b - $a) / 10" | bc -l | cut -c1-5) % of a core"
tmux send-keys -t cost C n; sleep 0.5
for _ in $(seq 1 9); do tmux send-keys -t cost Down; done
tmux send-keys -t cost Enter; sleep 8   # quickstart: two runs
a=$(cpu /proc/$pid/task/$pid/stat); sleep 10; b=$(cpu /proc/$pid/task/$pid/stat)
echo "UI thread with two runs training: $(echo "($b - $a) / 10" | bc -l | cut -c1-5) % of a core"
tmux send-keys -t cost q; sleep 0.5; tmux send-keys -t cost y; sleep 3
