#!/bin/bash
# Peak RSS and CPU per request of one effect-httpd process under 1 KiB and 64 KiB keep-alive load (wrk, c=50, 5 s
# each). Server on core 0, wrk on core 1. Needs dist/ (npm run build), wrk, taskset, and ROOT holding 1k.bin and
# 64k.bin.
#   scripts/bench-rss-load.sh LABEL ROOT [VAR=value ...] -- NODE_ARGS...
#   scripts/bench-rss-load.sh semi4 /tmp/root NODE_OPTIONS=--max-semi-space-size=4 -- bin/effect-httpd.js
# Prints: LABEL idle=RSS peak=VmHWM 1k.bin=req/s,µs CPU/request 64k.bin=…
label=$1; root=$2; shift 2
envs=(); while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
port=$((20000 + RANDOM % 20000))
env "${envs[@]}" taskset -c 0 node "$@" $port -b 127.0.0.1 -d "$root" -p HTTP/1.1 >/dev/null 2>&1 &
pid=$!
until curl -s -o /dev/null 127.0.0.1:$port/1k.bin; do sleep 0.1; done
idle=$(grep VmRSS /proc/$pid/status | awk '{print int($2/1024)}')
out=""
for f in 1k.bin 64k.bin; do
  c0=$(awk '{print $14+$15}' /proc/$pid/stat)
  w=$(taskset -c 1 wrk -t1 -c50 -d5s http://127.0.0.1:$port/$f)
  c1=$(awk '{print $14+$15}' /proc/$pid/stat)
  n=$(echo "$w" | grep "requests in" | awk '{print $1}')
  r=$(echo "$w" | grep Requests/sec | awk '{print int($2)}')
  us=$(awk -v c="$((c1 - c0))" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", c * 1e6 / hz / n }')
  out="$out $f=${r}req/s,${us}us/req"
done
hwm=$(grep VmHWM /proc/$pid/status | awk '{print int($2/1024)}')
kill $pid; wait $pid 2>/dev/null
echo "$label idle=${idle}MiB peak=${hwm}MiB$out"
