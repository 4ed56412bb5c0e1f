#!/bin/bash
# runtime_cost.sh LABEL KIND PORT CMD...: one round of the table "What the Go
# runtime costs a raw epoll loop" in docs/SYSCALLS.md. CMD starts the server
# (pinned by the caller: taskset -c 0 ...) serving /1k.bin on 127.0.0.1:PORT;
# KIND is epfs (its loop thread id from /metrics on PORT+1: run it with
# --admin-listen 127.0.0.1:PORT+1) or single (one thread: the thread id is
# the process id, as for ../shared/ceiling and its Go twin). wrk -t1 -c64
# -d5s on CPU 1; perf stat counts futex, nanosleep and every syscall of the
# process; the loop thread's context switches come from
# /proc/PID/task/TID/status and CPU from /proc/PID/stat. Run rounds
# interleaved, under the load lock on a shared machine, e.g.
#   for r in 1 2 3; do
#     tests/study/runtime_cost.sh C single 18500 taskset -c 0 ./ceiling 18500 mem 1024
#     tests/study/runtime_cost.sh epfs epfs 18540 taskset -c 0 bin/epfs serve --root DIR \
#       --listen 127.0.0.1:18540 --loops 1 --access-log off --admin-listen 127.0.0.1:18541
#   done
# It writes scratch files under /tmp/sched-$PORT.*.
LABEL=$1; KIND=$2; PORT=$3; shift 3
"$@" >/tmp/sched-$PORT.log 2>&1 &
PID=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/1k.bin -o /dev/null && break; sleep 0.1; done
if [ $KIND = epfs ]; then TID=$(curl -s http://127.0.0.1:$((PORT+1))/metrics | awk '/^epfs_loop_thread_id/{print $2}'); else TID=$PID; fi
PID=$(pgrep -P $PID || echo $PID) 2>/dev/null; [ -d /proc/$PID/task/$TID ] || PID=$TID
taskset -c 1 wrk -t1 -c64 -d1s http://127.0.0.1:$PORT/1k.bin >/dev/null
cs() { awk '/^voluntary_ctxt/{v=$2}/^nonvoluntary_ctxt/{n=$2}END{print v, n}' /proc/$PID/task/$TID/status; }
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
read V0 N0 < <(cs); C0=$(cpu)
perf stat -x, -e syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,raw_syscalls:sys_enter -p $PID -o /tmp/sched-$PORT.perf -- sleep 5.5 &
PP=$!
sleep 0.2
OUT=$(taskset -c 1 wrk -t1 -c64 -d5s http://127.0.0.1:$PORT/1k.bin)
wait $PP
read V1 N1 < <(cs); C1=$(cpu)
REQ=$(echo "$OUT" | awk '/requests in/{print $1}')
RPS=$(echo "$OUT" | awk '/Requests\/sec/{print $2}')
FUT=$(awk -F, '/futex/{print $1}' /tmp/sched-$PORT.perf); NS=$(awk -F, '/nanosleep/{print $1}' /tmp/sched-$PORT.perf); ALL=$(awk -F, '/raw_syscalls/{print $1}' /tmp/sched-$PORT.perf)
TCK=$(getconf CLK_TCK)
python3 -c "
req=$REQ; print('%-12s rps %7.0f cpu_us/req %6.2f futex/req %.4f nanosleep/req %.4f futex+ns/s %5.0f loop_cs/req vol %.4f invol %.4f sys/req %.2f' % ('$LABEL', $RPS, ($C1-$C0)/$TCK*1e6/req, $FUT/req, $NS/req, ($FUT+$NS)/5.5, ($V1-$V0)/req, ($N1-$N0)/req, $ALL/req))"
kill $PID 2>/dev/null; wait 2>/dev/null
