#!/usr/bin/env python3
"""Where a fillsync cycle's off-CPU time goes, by role (writer/README.md,
"Off the cores").

Record and read, from the workspace root (frame pointers, so that the
user-space stacks unwind; the peers are not needed):

    RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release \
        -p tributary-cli --bin bench --target-dir target/bench-fp
    perf record -g -a -e sched:sched_switch -e syscalls:sys_exit_fdatasync \
        -o off.data -- target/bench-fp/release/bench --db /tmp/offdb \
        --workload fillsync --threads 64 --num 1000000 --duration 3
    perf script -i off.data -F comm,tid,cpu,time,event,trace,ip,sym > off.txt
    python3 writer/perf/offcpu.py off.txt [v]

Each switch-out of a `bench` thread is classified by its stack: its role
(the leader: a `Leader::` frame, which holds the write lock, or runs its
group's fsync after handing the lock on; the syncer: a member in
`fdatasync`, syncing for its own group; else a member waiting for its
answer) and what it waits for (the device in `fdatasync`, a core after a
yield, a futex). Its off-CPU time runs to its next switch-in. Times are
totalled over the window between the first and last fsync and divided by
the fsyncs in it: thread-microseconds per cycle. With `v`, the commonest
stacks of each class are printed too.
"""
import sys, re, collections
hdr = re.compile(r'^(\S+)\s+(\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s+(\S+):\s*(.*)$')
sw = re.compile(r'prev_pid=(\d+).*?prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)')
events = []
cur = None
for line in open(sys.argv[1], errors='replace'):
    if not line.strip():
        continue
    m = hdr.match(line)
    if m:
        comm, tid, cpu, ts, name, rest = m.groups()
        cur = [float(ts), int(cpu), int(tid), comm, name, rest, []]
        events.append(cur)
    elif cur is not None:
        parts = line.split(None, 1)
        if len(parts) == 2:
            cur[6].append(parts[0] + ' ' + parts[1].strip())
events.sort(key=lambda e: e[0])
# steady window: between the first and last fdatasync's end
fs = [e for e in events if e[4].endswith('sys_exit_fdatasync')]
t0, t1 = fs[0][0], fs[-1][0]
ncycles = len(fs) - 1

def classify(state, stack):
    s = ' '.join(stack)
    if 'group_commit' not in s:
        return 'other', 'not a writer (driver, sampler)'
    role = 'leader' if 'Leader::' in s else ('syncer' if 'fdatasync' in s else 'member')
    if 'fdatasync' in s or 'file_write_and_wait' in s or 'jbd2' in s:
        what = 'in fdatasync (device)'
    elif state.startswith('R'):
        if 'sched_yield' in s:
            # Unwinding by frame pointers skips the caller of libc's
            # `sched_yield` (which keeps none): a yield right under
            # `Leader::commit` is the one in `CommitDelay::wait`, the
            # leader's only yield outside the pipeline's own waits.
            what = 'yielded in commit delay' if 'CommitDelay' in s or ('Leader::commit' in s and 'Pipeline' not in s) else 'yielded, runnable'
        else:
            what = 'preempted, runnable'
    elif 'futex' in s:
        if 'Pipeline::sleep' in s or 'wait_sync_end' in s or 'wait_durable' in s or 'wait_for_sync' in s:
            what = 'parked: fsync in flight'
        elif 'Slot::wait' in s:
            what = 'parked: its answer'
        elif 'acquire' in s or 'lock' in s:
            what = 'parked: a lock'
        else:
            what = 'parked: other'
    elif 'ksys_write' in s:
        # The kernel's frame: every writer's stack holds `write_own`.
        what = 'blocked in write'
    else:
        what = 'blocked: other (' + (stack[0] if stack else '?') + ')'
    return role, what

out = {}
tot = collections.Counter()
cnt = collections.Counter()
samples = collections.defaultdict(collections.Counter)
for ts, cpu, tid, comm, name, rest, stack in events:
    if not name.endswith('sched_switch'):
        continue
    m = sw.search(rest)
    if not m:
        continue
    prev, state, ncomm, nxt = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    if nxt in out:
        t_out, key = out.pop(nxt)
        a, b = max(t_out, t0), min(ts, t1)
        if b > a:
            tot[key] += b - a
            cnt[key] += 1
    if comm == 'bench' and t0 <= ts <= t1:
        user = [f for f in stack if not f.startswith('ffffffff')]
        key = classify(state, stack)
        out[prev] = (ts, key)
        frames = [f.split(' ', 1)[1] for f in user[:8] if ' ' in f]
        samples[key][' < '.join(frames[:6])] += 1
span = t1 - t0
print(f"steady window {span:.3f} s, {ncycles} fsyncs ({ncycles/span:.0f}/s)")
print(f"{'role':8} {'waiting on':28} {'thread-ms':>10} {'us/cycle':>9} {'switches/cycle':>15}")
for key, t in sorted(tot.items(), key=lambda kv: -kv[1]):
    print(f"{key[0]:8} {key[1]:28} {t*1e3:10.1f} {t*1e6/ncycles:9.0f} {cnt[key]/ncycles:15.2f}")
if len(sys.argv) > 2:
    for key in sorted(samples, key=lambda k: -tot[k])[:8]:
        print('\n', key)
        for st_, n in samples[key].most_common(3):
            print(f"   {n:7} {st_}")
