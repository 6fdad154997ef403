#!/usr/bin/python3
"""certkeeper vs certmonger, side by side on this machine (a benchmark, not a test).

Started by tools/bench, which installs the packages and builds certkeeper first.
Each daemon runs on its own private system-like D-Bus (Debian's system.conf with
only that daemon's policy) with its own state and its own local CA:

  certkeeper  certkeeperd --bus=ADDR --state-dir=DIR --config=FILE
  certmonger  certmonger -S -n -B, as root, with every CERTMONGER_*_DIR variable
              pointing into the run's directory, inside a mount namespace
              (unshare -m) where /var/lib/certmonger is an empty directory of the
              run: it cannot touch the global state even by mistake. The global
              directory is compared before and after, to prove it.

Both are driven the same way: their own CLI (`certkeeper request`, `getcert
request -S`), run in parallel by a pool of --jobs workers, one invocation per
certificate. Nothing here needs the network.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))

CK_NAME = "org.certkeeper.Certkeeper1"
CK_PATH = "/org/certkeeper/Certkeeper1"
CM_NAME = "org.fedorahosted.certmonger"
CM_PATH = "/org/fedorahosted/certmonger"
CM_POLICY = "/etc/dbus-1/system.d/certmonger.conf"
CM_GLOBAL_STATE = "/var/lib/certmonger"

# States after which a request goes nowhere without a human (both daemons use
# certmonger's vocabulary); seeing one aborts the run instead of waiting forever.
STUCK_STATES = {"CA_REJECTED", "NEED_GUIDANCE", "STOPPED", "CA_UNREACHABLE",
                "NEED_KEY_GEN_PERMS", "NEED_KEYINFO_READ_PIN", "NEED_CA",
                "NEED_TO_NOTIFY_REJECTION"}

MiB = 1024 * 1024


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def mono():
    return time.monotonic()


# --- /proc readings --------------------------------------------------------

def proc_status(pid):
    """VmRSS and VmHWM of one process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def proc_cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces and parentheses: split after the last ')'
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def proc_ctxt(pid):
    """Context switches per thread: {tid: (name, voluntary, nonvoluntary)}.

    A thread's wake-up costs one voluntary switch when it goes back to sleep, so
    the sum over all threads counts the process's wake-ups (/proc/PID/status
    alone would only show the main thread)."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                text = f.read()
        except FileNotFoundError:
            continue  # the thread ended while we looked
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        threads[int(tid)] = (fields["Name"].strip(),
                             int(fields["voluntary_ctxt_switches"]),
                             int(fields["nonvoluntary_ctxt_switches"]))
    return threads


def proc_cpu_ticks_with_children(pid):
    """utime + stime of @pid and of the children it has reaped (certmonger's
    key, CSR and CA helpers), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return sum(int(x) for x in fields[11:15])


class OthersMeter:
    """How much of the machine others used while a run went on: all CPU time
    spent (from /proc/stat) less what this benchmark spent (the daemon with the
    helpers it reaped, its bus, this script and the CLIs it ran and reaped)."""

    def __init__(self, pids):
        self.pids = pids
        self.start = self._sample()

    def _sample(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        t = os.times()
        ours = sum(proc_cpu_ticks_with_children(p) for p in self.pids) + \
            (t.user + t.system + t.children_user + t.children_system) * hz
        return sum(v[:8]), v[3] + v[4], v[4], ours

    def share(self):
        t0, idle0, w0, o0 = self.start
        t1, idle1, w1, o1 = self._sample()
        total = max(t1 - t0, 1)
        others = (t1 - t0) - (idle1 - idle0) - (o1 - o0)
        return {"others_cpu": max(others, 0) / total, "iowait": (w1 - w0) / total}


def machine_busy(exclude_pids, seconds=1.0):
    """Share of all CPUs busy, and waiting for I/O, over @seconds, less what the
    benchmark's own processes (@exclude_pids) used meanwhile: anything above a
    few per cent is someone else's work (a test suite, a build) that skews the
    figures taken next."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        ours = sum(proc_cpu_ticks(pid) for pid in exclude_pids)
        return sum(v[:8]), v[3], v[4], ours
    t0, i0, w0, o0 = sample()
    time.sleep(seconds)
    t1, i1, w1, o1 = sample()
    total = max(t1 - t0, 1)
    busy = total - (i1 - i0) - (w1 - w0) - (o1 - o0)
    return {"busy": max(busy, 0) / total, "iowait": (w1 - w0) / total}


def settle(pid, quiet=2.0, cap=60.0):
    """Waits until no thread of @pid woke up for @quiet seconds (at most @cap);
    returns the seconds until the last wake-up, or None if it never went quiet. Both daemons
    re-read every certificate after a start, in batches, and the idle window
    must not catch the tail of that work; CPU time is too coarse a sign (a
    batch may take less than a clock tick), context switches are not."""
    def switches():
        return sum(v + n for _, v, n in proc_ctxt(pid).values())
    start = calm_since = mono()
    last = switches()
    while mono() - start < cap:
        time.sleep(0.1)
        now = switches()
        if now != last:
            last, calm_since = now, mono()
        elif mono() - calm_since >= quiet:
            return calm_since - start
    return None


def idle_wakeups(pid, window):
    """Context switches of all of @pid's threads over @window seconds, and the
    CPU time used meanwhile. Threads that start or end inside the window are
    reported: a pool thread that exits takes its counts with it."""
    ticks0, before = proc_cpu_ticks(pid), proc_ctxt(pid)
    time.sleep(window)
    ticks1, after = proc_cpu_ticks(pid), proc_ctxt(pid)
    per_thread, total_vol, total_nonvol = [], 0, 0
    for tid, (name, vol, nonvol) in sorted(after.items()):
        v0, n0 = before.get(tid, (name, 0, 0))[1:]
        dv, dn = vol - v0, nonvol - n0
        total_vol += dv
        total_nonvol += dn
        per_thread.append({"tid": tid, "name": name, "voluntary": dv, "nonvoluntary": dn,
                           "new": tid not in before})
    gone = [{"tid": t, "name": before[t][0]} for t in sorted(set(before) - set(after))]
    hz = os.sysconf("SC_CLK_TCK")
    return {"window_s": window, "wakeups": total_vol + total_nonvol,
            "voluntary": total_vol, "nonvoluntary": total_nonvol,
            "cpu_s": (ticks1 - ticks0) / hz, "threads": per_thread, "threads_gone": gone}


# --- the benchmark's processes ---------------------------------------------

class Procs:
    """Every long-lived process the benchmark starts, so that all of them are
    stopped at the end, whatever happens. Each runs in its own session, so its
    process group id is its pid: stopping the group also stops whatever it
    forked (certmonger's helpers), and nothing else."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=20):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        # helpers left in the group after the leader exited
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p, timeout=5)


def system_like_bus_config(directory, policy_files):
    """Debian's system bus configuration, listening in @directory, with only the
    given policies: the daemon meets the same rules as on a real system bus."""
    policy_dir = os.path.join(directory, "policy")
    os.makedirs(policy_dir, exist_ok=True)
    for policy in policy_files:
        shutil.copy(policy, policy_dir)
    dropped = ("<pidfile>", "<user>", "<includedir>", "<include ", "<servicehelper>",
               "<standard_system_servicedirs", "<syslog")
    lines = []
    with open("/usr/share/dbus-1/system.conf") as f:
        for line in f:
            if any(d in line for d in dropped):
                continue
            line = re.sub(r"<listen>.*</listen>",
                          f"<listen>unix:path={directory}/bus.sock</listen>", line)
            line = line.replace("</busconfig>",
                                f"  <includedir>{policy_dir}</includedir>\n</busconfig>")
            lines.append(line)
    path = os.path.join(directory, "bus.conf")
    with open(path, "w") as f:
        f.writelines(lines)
    return path


class StormProbe:
    """How long one bus call takes while the daemon issues: every 0.25 s a busctl
    call of the daemon's cheapest listing method (GetRequests / get_requests),
    timed end to end, busctl's own start included (a few ms, the same for both)."""

    def __init__(self, daemon, interval=0.25):
        self.daemon, self.interval = daemon, interval
        self.samples, self.failures = [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        d = self.daemon
        while not self.stopping.wait(self.interval):
            t = mono()
            if d.bus.call_ok(d.bus_name, d.bus_path, d.bus_iface, d.bus_method):
                self.samples.append(mono() - t)
            else:
                self.failures += 1

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join()

    def summary(self):
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return {"median": statistics.median(ordered),
                "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
                "max": ordered[-1], "samples": len(ordered), "failures": self.failures}


class Bus:
    def __init__(self, procs, directory, policy_files):
        conf = system_like_bus_config(directory, policy_files)
        self.procs = procs
        # its complaints (e.g. that it may not raise its fd limit) go to a log
        with open(os.path.join(directory, "dbus-daemon.log"), "w") as logf:
            self.proc = procs.start(["dbus-daemon", f"--config-file={conf}", "--nofork",
                                     "--print-address=1"], stdout=subprocess.PIPE,
                                    stderr=logf, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise BenchError(f"dbus-daemon did not start (config {conf})")

    def call_ok(self, name, path, iface, method):
        r = subprocess.run(["busctl", f"--address={self.address}", "--timeout=30", "call",
                            name, path, iface, method],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop(self):
        self.procs.stop(self.proc)


class Daemon:
    """What both daemons share: a run directory with certs/ and keys/, a bus, a
    process, and ways to read its state."""

    label = "?"
    bus_name = bus_path = bus_iface = bus_method = None

    def __init__(self, bench, directory):
        self.bench = bench
        self.dir = directory
        self.certs = os.path.join(directory, "certs")
        self.keys = os.path.join(directory, "keys")
        os.makedirs(self.certs)
        os.makedirs(self.keys)
        self.bus = Bus(bench.procs, os.path.join(directory, "bus"), self.policies())
        self.proc = None
        self.starts = 0

    @property
    def pid(self):
        return self.proc.pid

    def env(self):
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        env["LANG"] = env["LC_ALL"] = "C.UTF-8"
        env.pop("NOTIFY_SOCKET", None)
        return env

    def wait_answer(self, t0, timeout=120):
        """Seconds from @t0 until the daemon answers its listing method on the bus."""
        while mono() - t0 < timeout:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} exited with {self.proc.returncode}; see "
                                 f"{self.logfile()}")
            if self.bus.call_ok(self.bus_name, self.bus_path, self.bus_iface, self.bus_method):
                return mono() - t0
            time.sleep(0.005)
        raise BenchError(f"{self.label} did not answer on the bus within {timeout} s")

    def logfile(self):
        return os.path.join(self.dir, f"daemon-{self.starts}.log")

    def stop(self):
        if self.proc is not None:
            self.bench.procs.stop(self.proc)
            self.proc = None

    def shutdown(self):
        self.stop()
        self.bus.stop()

    def memory(self):
        return proc_status(self.pid)

    def run_cli(self, argv, check=True):
        r = subprocess.run(argv, env=self.env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if check and r.returncode != 0:
            raise BenchError(f"{' '.join(argv[:3])}... failed ({r.returncode}): "
                             f"{r.stderr.strip() or r.stdout.strip()}")
        return r


class Certkeeper(Daemon):
    label = "certkeeperd"
    bus_name, bus_path = CK_NAME, CK_PATH
    bus_iface, bus_method = "org.certkeeper.Manager1", "GetRequests"

    def policies(self):
        return [os.path.join(TOP, "units", "org.certkeeper.Certkeeper1.conf")]

    def __init__(self, bench, directory):
        super().__init__(bench, directory)
        self.state = os.path.join(directory, "state")
        self.config = os.path.join(directory, "certkeeper.conf")
        # explicit where the built-in defaults would do, so that the figures
        # do not change under a changed default
        with open(self.config, "w") as f:
            f.write("[certkeeperd]\nLogLevel=message\n\n"
                    "[defaults]\nCA=local\nValidityDays=365\n")

    def start(self):
        """Starts certkeeperd; returns (seconds to READY=1, seconds until it
        answers GetRequests), both from just before the fork."""
        self.starts += 1
        sock_path = os.path.join(self.dir, "notify.sock")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        env = self.env()
        env["NOTIFY_SOCKET"] = sock_path
        try:
            with open(self.logfile(), "w") as logf:
                t0 = mono()
                self.proc = self.bench.procs.start(
                    [self.bench.ckd, f"--bus={self.bus.address}", f"--state-dir={self.state}",
                     f"--config={self.config}"], env=env, stdout=logf, stderr=subprocess.STDOUT)
            ready = None
            while ready is None:
                if mono() - t0 > 120:
                    raise BenchError("certkeeperd sent no READY=1 within 120 s")
                if self.proc.poll() is not None:
                    raise BenchError(f"certkeeperd exited with {self.proc.returncode}; see "
                                     f"{self.logfile()}")
                sock.settimeout(0.5)
                try:
                    msg = sock.recv(4096).decode(errors="replace")
                except socket.timeout:
                    continue
                if "READY=1" in msg.split("\n"):
                    ready = mono() - t0
        finally:
            sock.close()
        return ready, self.wait_answer(t0)

    def request_argv(self, i, key_type):
        ktype = ["-G", "RSA", "-g", "2048"] if key_type == "rsa-2048" else ["-G", "ec-p256"]
        return [self.bench.ck, f"--bus={self.bus.address}", "request",
                "-f", os.path.join(self.certs, f"{i:05d}.crt"),
                "-k", os.path.join(self.keys, f"{i:05d}.key"),
                "-N", f"CN=bench-{i:05d}.example", "-I", f"bench-{i:05d}", *ktype]

    def list_argv(self, json_output=False):
        return [self.bench.ck, f"--bus={self.bus.address}", "list"] + \
            (["--json"] if json_output else [])

    def states(self):
        r = self.run_cli(self.list_argv(json_output=True))
        counts = {}
        for req in json.loads(r.stdout):
            counts[req.get("State", "?")] = counts.get(req.get("State", "?"), 0) + 1
        return counts


class Certmonger(Daemon):
    label = "certmonger"
    bus_name, bus_path = CM_NAME, CM_PATH
    bus_iface, bus_method = "org.fedorahosted.certmonger", "get_requests"

    def policies(self):
        return [CM_POLICY]

    def __init__(self, bench, directory):
        super().__init__(bench, directory)
        self.state = os.path.join(directory, "state")
        self.dirs = {name: os.path.join(self.state, name)
                     for name in ("config", "requests", "cas", "local", "tmp", "varlib")}
        for d in self.dirs.values():
            os.makedirs(d)

    def env(self):
        env = super().env()
        env.update({
            "CERTMONGER_CONFIG_DIR": self.dirs["config"],
            "CERTMONGER_REQUESTS_DIR": self.dirs["requests"],
            "CERTMONGER_CAS_DIR": self.dirs["cas"],
            "CERTMONGER_LOCAL_CA_DIR": self.dirs["local"],
            "CERTMONGER_TMPDIR": self.dirs["tmp"],
            "CERTMONGER_SYSTEM_LOCK_FILE": os.path.join(self.state, "lock"),
        })
        return env

    def start(self):
        """Starts certmonger; returns (None, seconds until it answers
        get_requests): it sends no sd_notify."""
        self.starts += 1
        pidfile = os.path.join(self.state, "pid")
        # unshare without --fork execs, and so does sh: the Popen pid is certmonger's
        script = ('if [ -d "$1" ]; then mount --bind "$2" "$1" || exit 1; fi; '
                  'exec certmonger -S -n -B -p "$3"')
        with open(self.logfile(), "w") as logf:
            t0 = mono()
            self.proc = self.bench.procs.start(
                ["unshare", "-m", "--", "sh", "-c", script, "sh", CM_GLOBAL_STATE,
                 self.dirs["varlib"], pidfile], env=self.env(), stdout=logf,
                stderr=subprocess.STDOUT)
        answer = self.wait_answer(t0)
        with open(f"/proc/{self.pid}/comm") as f:
            if f.read().strip() != "certmonger":
                raise BenchError("the certmonger process is not the one started")
        return None, answer

    def request_argv(self, i, key_type):
        assert key_type == "rsa-2048"
        return ["getcert", "request", "-S", "-c", "local",
                "-f", os.path.join(self.certs, f"{i:05d}.crt"),
                "-k", os.path.join(self.keys, f"{i:05d}.key"),
                "-N", f"CN=bench-{i:05d}.example", "-I", f"bench-{i:05d}", "-G", "RSA",
                "-g", "2048"]

    def list_argv(self, json_output=False):
        return ["getcert", "list", "-S"]

    def states(self):
        r = self.run_cli(self.list_argv())
        counts = {}
        for m in re.finditer(r"^\s+status: (\S+)", r.stdout, re.M):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts


def global_state_snapshot():
    """Names, sizes and mtimes of everything in /var/lib/certmonger."""
    snap = []
    if not os.path.isdir(CM_GLOBAL_STATE):
        return None
    for root, dirs, files in os.walk(CM_GLOBAL_STATE):
        for name in sorted(dirs + files):
            st = os.lstat(os.path.join(root, name))
            snap.append((os.path.join(root, name), st.st_size, st.st_mtime_ns))
    return sorted(snap)


# --- measurements ----------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.procs = Procs()
        self.ckd = os.path.join(args.build, "daemon", "certkeeperd")
        self.ck = os.path.join(args.build, "client", "certkeeper")
        for prog in (self.ckd, self.ck):
            if not os.access(prog, os.X_OK):
                raise BenchError(f"{prog} is missing: run tools/bench, which builds it")
        self.tmp = tempfile.mkdtemp(prefix="certkeeper-bench.")
        # the daemons run as root but the CLIs check paths; keep it traversable
        os.chmod(self.tmp, 0o755)
        self.results = {"runs": [], "restarts": [], "idle": [], "list": [], "skipped": []}
        self.runs_made = 0

    def new_dir(self, name):
        self.runs_made += 1
        d = os.path.join(self.tmp, f"{self.runs_made:02d}-{name}")
        os.makedirs(d)
        return d

    # submitting N requests, and waiting for all of them to be MONITORING

    def submit(self, daemon, n, key_type):
        argvs = [daemon.request_argv(i, key_type) for i in range(n)]
        env = daemon.env()

        def one(argv):
            r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            return r.returncode, r.stderr

        with concurrent.futures.ThreadPoolExecutor(self.args.jobs) as pool:
            try:
                for code, err in pool.map(one, argvs):
                    if code != 0:
                        raise BenchError(f"a {daemon.label} request failed ({code}): "
                                         f"{err.strip()}")
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def wait_monitoring(self, daemon, n, t0):
        """Returns when all @n requests are MONITORING. Watching the certificate
        files appear is cheap (one directory read) and does not load the daemon;
        only then is the daemon's own list asked, until it shows all MONITORING.
        While files still come, the daemon is asked only if nothing moved for a
        while, to catch requests that are stuck."""
        expected = {f"{i:05d}.crt" for i in range(n)}
        seen, last_progress = 0, mono()
        interval = 0.05 if n <= 2000 else 0.2
        while True:
            if daemon.proc.poll() is not None:
                raise BenchError(f"{daemon.label} exited; see {daemon.logfile()}")
            if mono() - t0 > self.args.timeout:
                raise BenchError(f"{daemon.label}: only {seen} of {n} certificates after "
                                 f"{self.args.timeout} s (--timeout)")
            have = len(expected.intersection(os.listdir(daemon.certs)))
            if have > seen:
                seen, last_progress = have, mono()
            if have == n:
                break
            if mono() - last_progress > 30:
                self.check_stuck(daemon)
                last_progress = mono()
            time.sleep(interval)
        t_files = mono() - t0
        while True:
            states = daemon.states()
            if states.get("MONITORING", 0) == n:
                return t_files, mono() - t0
            self.check_stuck(daemon, states)
            if mono() - t0 > self.args.timeout:
                raise BenchError(f"{daemon.label}: not all MONITORING: {states}")
            time.sleep(0.01)

    def check_stuck(self, daemon, states=None):
        states = states if states is not None else daemon.states()
        stuck = {s: c for s, c in states.items() if s in STUCK_STATES}
        if stuck:
            raise BenchError(f"{daemon.label}: requests stuck: {stuck} (all: {states}); "
                             f"see {daemon.logfile()}")

    def wait_quiet(self, daemon):
        """The machine's load from others, waiting (up to --wait-quiet seconds)
        for it to drop: on a shared machine a test suite running beside the
        benchmark would make every figure it overlaps look worse."""
        start, told = mono(), False
        while True:
            busy = machine_busy([daemon.pid, daemon.bus.proc.pid])
            quiet = busy["busy"] <= 0.05 and busy["iowait"] <= 0.05
            if quiet or mono() - start >= self.args.wait_quiet:
                busy["waited_s"] = mono() - start
                return busy
            if not told:
                log(f"the machine is busy with other work ({busy['busy']:.0%} CPU, "
                    f"{busy['iowait']:.0%} I/O wait); waiting up to {self.args.wait_quiet:.0f} s")
                told = True

    def issue_run(self, daemon, n, key_type):
        busy = self.wait_quiet(daemon)
        log(f"{daemon.label}: {n} x {key_type} ... (machine before: {busy['busy']:.0%} busy, "
            f"{busy['iowait']:.0%} I/O wait)")
        meter = OthersMeter([daemon.pid, daemon.bus.proc.pid])
        probe = StormProbe(daemon)
        t0 = mono()
        probe.start()
        try:
            self.submit(daemon, n, key_type)
            t_submit = mono() - t0
            t_files, t_done = self.wait_monitoring(daemon, n, t0)
        finally:
            probe.stop()
        during = meter.share()
        mem = daemon.memory()
        # and once the burst is over (certkeeperd gives freed heap back a second
        # after its last job): what the daemon keeps while it tracks them
        settle(daemon.pid)
        settled = daemon.memory()
        run = {"daemon": daemon.label, "n": n, "key_type": key_type,
               "submit_s": t_submit, "files_s": t_files, "monitoring_s": t_done,
               "per_cert_ms": 1000 * t_done / n, "vmrss": mem["VmRSS"], "vmhwm": mem["VmHWM"],
               "vmrss_settled": settled["VmRSS"],
               "dir": daemon.dir, "machine_before": busy, "machine_during": during,
               "storm_call_s": probe.summary()}
        self.results["runs"].append(run)
        log(f"{daemon.label}: {n} x {key_type}: all MONITORING after {t_done:.2f} s "
            f"(submitted in {t_submit:.2f} s); VmRSS {mem['VmRSS'] / MiB:.1f} MiB, "
            f"VmHWM {mem['VmHWM'] / MiB:.1f} MiB (VmRSS {settled['VmRSS'] / MiB:.1f} MiB once "
            f"quiet); others used {during['others_cpu']:.0%} of the CPUs meanwhile")
        return run

    # list latency

    def list_latency(self, daemon, n, variants):
        runs = self.args.list_runs
        for name, argv in variants:
            busy = self.wait_quiet(daemon)
            if shutil.which("hyperfine"):
                out = os.path.join(daemon.dir, f"hyperfine-{name}.json")
                # -N: no shell in between; its warnings (outliers) go to a log
                with open(out + ".log", "w") as logf:
                    subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", "2",
                                    "--runs", str(runs), "--export-json", out,
                                    " ".join(argv)], env=daemon.env(), check=True,
                                   stdout=subprocess.DEVNULL, stderr=logf)
                with open(out) as f:
                    res = json.load(f)["results"][0]
                times, tool = res["times"], "hyperfine"
            else:
                for _ in range(2):
                    daemon.run_cli(argv)
                times = []
                for _ in range(runs):
                    t = mono()
                    daemon.run_cli(argv)
                    times.append(mono() - t)
                tool = "repeated timing"
            entry = {"daemon": daemon.label, "n": n, "command": name, "tool": tool,
                     "runs": runs, "median_s": statistics.median(times),
                     "min_s": min(times), "max_s": max(times), "machine_before": busy}
            self.results["list"].append(entry)
            log(f"{daemon.label}: {name} of {n}: median {entry['median_s'] * 1000:.1f} ms "
                f"({tool}, {runs} runs)")

    def memory_after_list(self, daemon, n):
        """One `list --json` of everything, and the memory before and after it:
        the reply with every request's properties is built in one piece, and
        that peak stays in VmHWM (and partly in VmRSS: malloc keeps it)."""
        before = daemon.memory()
        t = mono()
        daemon.run_cli(daemon.list_argv(json_output=True))
        took = mono() - t
        after = daemon.memory()
        entry = {"daemon": daemon.label, "n": n, "list_s": took,
                 "before": before, "after": after}
        self.results["list_memory"] = entry
        log(f"{daemon.label}: one list --json of {n} took {took:.2f} s; VmRSS "
            f"{before['VmRSS'] / MiB:.1f} -> {after['VmRSS'] / MiB:.1f} MiB, VmHWM "
            f"{before['VmHWM'] / MiB:.1f} -> {after['VmHWM'] / MiB:.1f} MiB")

    # start-up and idle

    def restarts(self, daemon, n, times):
        busy = self.wait_quiet(daemon)
        samples = []
        for _ in range(times):
            daemon.stop()
            ready, answer = daemon.start()
            samples.append((ready, answer))
        entry = {"daemon": daemon.label, "n": n, "restarts": times,
                 "ready_s": statistics.median(s[0] for s in samples) if samples[0][0] is not None else None,
                 "answer_s": statistics.median(s[1] for s in samples),
                 "samples": samples, "machine_before": busy}
        mem = daemon.memory()
        entry.update({"vmrss": mem["VmRSS"], "vmhwm": mem["VmHWM"]})
        self.results["restarts"].append(entry)
        log(f"{daemon.label}: restart with {n}: "
            + (f"READY=1 after {entry['ready_s']:.3f} s, " if entry["ready_s"] is not None else "")
            + f"answers after {entry['answer_s']:.3f} s (median of {times}); VmRSS "
            f"{mem['VmRSS'] / MiB:.1f} MiB, VmHWM {mem['VmHWM'] / MiB:.1f} MiB")
        return entry

    def idle(self, daemon, n):
        settled = settle(daemon.pid)
        log(f"{daemon.label}: "
            + (f"last start-up wake-up {settled:.1f} s after it answered the bus"
               if settled is not None else "never quiet for 2 s within 60 s")
            + f"; counting wake-ups for {self.args.idle} s with {n} certificates tracked ...")
        res = idle_wakeups(daemon.pid, self.args.idle)
        res.update({"daemon": daemon.label, "n": n, "settle_s": settled})
        self.results["idle"].append(res)
        log(f"{daemon.label}: {res['wakeups']} wake-ups in {self.args.idle} s "
            f"({res['voluntary']} voluntary, {res['nonvoluntary']} involuntary, "
            f"{res['cpu_s']:.2f} s CPU)")
        return res

    # the whole thing

    def list_n(self):
        """The N at which list latency is measured: 1,000 when it is run, else the largest."""
        return 1000 if 1000 in self.args.n else max(self.args.n)

    def run_certkeeper(self):
        a = self.args
        for n in a.n:
            for key_type in ("rsa-2048", "ec-p256"):
                ck = Certkeeper(self, self.new_dir(f"certkeeper-{key_type}-{n}"))
                try:
                    ck.start()
                    self.issue_run(ck, n, key_type)
                    if n == self.list_n() and key_type == "rsa-2048":
                        self.list_latency(ck, n, [("list", ck.list_argv()),
                                                  ("list --json", ck.list_argv(True))])
                    if n == max(a.n) and key_type == "rsa-2048":
                        self.restarts(ck, n, a.restarts)
                finally:
                    ck.shutdown()
        if a.big:
            # ECDSA (certkeeper's default) for the big set: 10,000 RSA keys would
            # only measure GnuTLS's prime search, for minutes
            ck = Certkeeper(self, self.new_dir(f"certkeeper-ec-p256-{a.big}"))
            try:
                ck.start()
                self.issue_run(ck, a.big, "ec-p256")
                self.restarts(ck, a.big, a.restarts)
                if a.idle:
                    self.idle(ck, a.big)
                # last: the idle window must not follow a big reply
                self.memory_after_list(ck, a.big)
            finally:
                ck.shutdown()

    def run_certmonger(self):
        a = self.args
        before = global_state_snapshot()
        try:
            last = None
            for n in a.n:
                cm = Certmonger(self, self.new_dir(f"certmonger-rsa-2048-{n}"))
                try:
                    cm.start()
                    last = self.issue_run(cm, n, "rsa-2048")
                    if n == self.list_n():
                        self.list_latency(cm, n, [("getcert list", cm.list_argv())])
                    if n == max(a.n):
                        self.restarts(cm, n, a.restarts)
                        if a.idle:
                            self.idle(cm, n)
                finally:
                    cm.shutdown()
            if a.big:
                estimate = last["monitoring_s"] / last["n"] * a.big
                if estimate > a.certmonger_big_budget:
                    why = (f"certmonger with {a.big}: skipped; at its measured "
                           f"{last['per_cert_ms']:.0f} ms per certificate (N={last['n']}) "
                           f"it would take about {estimate / 60:.0f} min, "
                           + ("and --quick never runs it" if a.quick else
                              f"over the --certmonger-big-budget of "
                              f"{a.certmonger_big_budget / 60:.0f} min"))
                    self.results["skipped"].append(why)
                    log(why)
                else:
                    cm = Certmonger(self, self.new_dir(f"certmonger-rsa-2048-{a.big}"))
                    try:
                        cm.start()
                        self.issue_run(cm, a.big, "rsa-2048")
                        self.restarts(cm, a.big, 1)
                    finally:
                        cm.shutdown()
        finally:
            after = global_state_snapshot()
            self.results["certmonger_global_state_untouched"] = before == after
            if before != after:
                log(f"WARNING: {CM_GLOBAL_STATE} changed during the run")

    def keygen_floor(self):
        """RSA-2048 keys alone, made with certkeeperd's own code on every CPU: no
        daemon issues N certificates faster than it can make N keys, so this is
        the floor under the N=1,000 figure on this machine, now."""
        tool = os.path.join(self.args.build, "daemon", "ck-bench-keygen")
        if not os.access(tool, os.X_OK):
            raise BenchError(f"{tool} is missing: run tools/bench, which builds it")
        busy = machine_busy([])
        keys = 200
        log(f"RSA-2048 key generation alone, {keys} keys on all CPUs ...")
        out = subprocess.run([tool, str(keys)], stdout=subprocess.PIPE, check=True,
                             text=True).stdout
        floor = json.loads(out)
        floor["per_1000_s"] = floor["wall_s"] * 1000 / floor["keys"]
        floor["machine_before"] = busy
        self.results["keygen_floor"] = floor
        log(f"{keys} RSA-2048 keys in {floor['wall_s']:.2f} s on {floor['threads']} threads: "
            f"1,000 take at least {floor['per_1000_s']:.1f} s")

    def run(self):
        a = self.args
        self.results["environment"] = environment(a)
        log(f"work directory {self.tmp}")
        if 1000 in a.n:
            self.keygen_floor()
        self.run_certkeeper()
        if a.skip_certmonger:
            self.results["skipped"].append("certmonger: --skip-certmonger")
        else:
            self.run_certmonger()

    def cleanup(self):
        self.procs.stop_all()
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def environment(args):
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, cwd=TOP).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "command": " ".join(["tools/bench"] + sys.argv[1:]).replace(f"--build {args.build} ", ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release,
        "certkeeper_commit": out(["git", "rev-parse", "--short", "HEAD"]),
        "certkeeper_tree_dirty": bool(out(["git", "status", "--porcelain", "--", "daemon",
                                           "client"])),
        "certmonger_version": out(["dpkg-query", "-W", "-f=${Version}", "certmonger"]),
        "jobs": args.jobs,
        "submission": f"one CLI invocation per certificate (certkeeper request / getcert "
                      f"request -S), {args.jobs} in parallel",
    }


# --- the table -------------------------------------------------------------

def fmt_s(s):
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"
    return f"{s:.1f} s" if s < 100 else f"{s:.0f} s"


def fmt_mem(run):
    return f"{run['vmrss'] / MiB:.1f} / {run['vmhwm'] / MiB:.1f} MiB"


def report(results, args):
    runs = results["runs"]

    def run(daemon, n, kt):
        return next((r for r in runs if r["daemon"] == daemon and r["n"] == n
                     and r["key_type"] == kt), None)

    rows = []  # (metric, certkeeper, certmonger, target, verdict)

    def verdict(ok):
        return "-" if ok is None else ("ok" if ok else "MISSED")

    skip_cm = "skipped" if args.skip_certmonger else "-"

    def storm(r):
        c = r.get("storm_call_s") if r else None
        if not c:
            return None
        return " / ".join(f"{1000 * c[k]:.0f} ms" for k in ("median", "p95", "max"))

    def timing(r):
        # the list that confirms MONITORING answers late for a slow lister
        # (getcert list of 1,000 takes seconds): show when the last file came too
        if r is None:
            return None
        return f"{fmt_s(r['monitoring_s'])} (files {fmt_s(r['files_s'])})"

    for n in args.n:
        ck, cm = run("certkeeperd", n, "rsa-2048"), run("certmonger", n, "rsa-2048")
        ratio = cm["monitoring_s"] / ck["monitoring_s"] if ck and cm else None
        target, ok = "", None
        if ratio is not None:
            target = f"{ratio:.1f}x faster"
            if n == 1000:
                target += " (>= 20x)"
                ok = ratio >= 20
        rows.append((f"{n} x RSA-2048 to all MONITORING", timing(ck) or "-",
                     timing(cm) or skip_cm, target, verdict(ok)))
        floor = results.get("keygen_floor")
        if n == 1000 and floor:
            best = f"{cm['monitoring_s'] / floor['per_1000_s']:.1f}x at best" if cm else ""
            rows.append((f"  floor: 1000 RSA-2048 keys alone, {floor['threads']} CPUs",
                         fmt_s(floor["per_1000_s"]), "", best, "-"))
        rows.append((f"  bus call during it: median / p95 / max", storm(ck) or "-",
                     storm(cm) or skip_cm, "", "-"))
    for n in args.n + ([args.big] if args.big else []):
        ck = run("certkeeperd", n, "ec-p256")
        if ck:
            rows.append((f"{n} x ECDSA P-256 to all MONITORING", timing(ck), "n/a", "", "-"))
    for n in args.n:
        ck, cm = run("certkeeperd", n, "rsa-2048"), run("certmonger", n, "rsa-2048")
        if n == max(args.n) or n == 1000:
            rows.append((f"VmRSS / VmHWM with {n} (RSA run)", fmt_mem(ck) if ck else "-",
                         fmt_mem(cm) if cm else skip_cm, "", "-"))
    big_target = "VmRSS < 32 MiB" if args.big >= 10000 else ""
    if args.big:
        ck = run("certkeeperd", args.big, "ec-p256")
        cm = run("certmonger", args.big, "rsa-2048")
        ok = ck["vmrss"] < 32 * MiB if ck and big_target else None
        rows.append((f"VmRSS / VmHWM with {args.big} (after issuing)", fmt_mem(ck) if ck else "-",
                     fmt_mem(cm) if cm else ("skipped" if results["skipped"] else "-"),
                     big_target, verdict(ok)))
        if ck:
            ok = ck["vmrss_settled"] < 32 * MiB if big_target else None
            rows.append((f"VmRSS with {args.big} (after issuing, once quiet)",
                         f"{ck['vmrss_settled'] / MiB:.1f} MiB",
                         f"{cm['vmrss_settled'] / MiB:.1f} MiB" if cm else "-",
                         big_target, verdict(ok)))
    for r in results["restarts"]:
        if r["daemon"] == "certkeeperd" and r["n"] == args.big:
            ok = r["vmrss"] < 32 * MiB if big_target else None
            rows.append((f"VmRSS / VmHWM with {r['n']} (after restart)", fmt_mem(r), "",
                         big_target, verdict(ok)))
    lm = results.get("list_memory")
    if lm:
        rows.append((f"  ... then one `list --json` of {lm['n']} ({fmt_s(lm['list_s'])})",
                     fmt_mem({"vmrss": lm["after"]["VmRSS"], "vmhwm": lm["after"]["VmHWM"]}),
                     "", "", "-"))
    cm_list = next((e for e in results["list"] if e["daemon"] == "certmonger"), None)
    for entry in results["list"]:
        if entry["daemon"] != "certkeeperd":
            continue
        # getcert has no JSON output: compare it with the first (plain) list only
        first = entry is next(e for e in results["list"] if e["daemon"] == "certkeeperd")
        cm, cm_list = cm_list, None
        ok = entry["median_s"] < 0.1 if entry["n"] == 1000 else None
        rows.append((f"`{entry['command']}` of {entry['n']}, median",
                     fmt_s(entry["median_s"]),
                     (fmt_s(cm["median_s"]) + " (getcert list)") if cm
                     else (skip_cm if first else "-"),
                     "< 100 ms" if entry["n"] == 1000 else "", verdict(ok)))
    cks = [r for r in results["restarts"] if r["daemon"] == "certkeeperd"]
    cms = [r for r in results["restarts"] if r["daemon"] == "certmonger"]
    for r in cks:
        big = r["n"] == args.big
        ok = r["ready_s"] < 2 if big and r["n"] >= 10000 else None
        cm = next((c for c in cms if c["n"] == r["n"]), None)
        rows.append((f"restart to READY=1 with {r['n']}", fmt_s(r["ready_s"]), "n/a (no sd_notify)",
                     "< 2 s" if big and r["n"] >= 10000 else "", verdict(ok)))
        rows.append((f"restart to answering the bus with {r['n']}", fmt_s(r["answer_s"]),
                     fmt_s(cm["answer_s"]) if cm else "-", "", "-"))
    for r in cms:
        if not any(c["n"] == r["n"] for c in cks):
            rows.append((f"restart to answering the bus with {r['n']}", "-", fmt_s(r["answer_s"]),
                         "", "-"))
    ck_idle = next((i for i in results["idle"] if i["daemon"] == "certkeeperd"), None)
    cm_idle = next((i for i in results["idle"] if i["daemon"] == "certmonger"), None)
    if ck_idle or cm_idle:
        def idle_cell(i):
            return f"{i['wakeups']} ({i['n']} tracked)" if i else "-"
        def settle_cell(i):
            if not i:
                return "-"
            return fmt_s(i["settle_s"]) if i["settle_s"] is not None else "never quiet"
        rows.append((f"start-up work after answering (to 2 s without wake-ups)",
                     settle_cell(ck_idle), settle_cell(cm_idle) if cm_idle else skip_cm, "", "-"))
        rows.append((f"wake-ups while idle, {args.idle} s", idle_cell(ck_idle),
                     idle_cell(cm_idle) if cm_idle else skip_cm, "0",
                     verdict(ck_idle["wakeups"] == 0 if ck_idle else None)))

    head = ("metric", "certkeeper", "certmonger", "vs certmonger / target", "")
    widths = [max(len(str(r[c])) for r in rows + [head]) for c in range(5)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)).rstrip()
             for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    env = results["environment"]
    print()
    print(f"certkeeper {env['certkeeper_commit']}{'+' if env['certkeeper_tree_dirty'] else ''}"
          f" vs certmonger {env['certmonger_version'] or '(not run)'} on {env['cpus']} x "
          f"{env['cpu']}, kernel {env['kernel']}")
    print(f"$ {env['command']}")
    print(f"submission: {env['submission']}")
    print()
    print("\n".join(lines))
    for why in results["skipped"]:
        print(f"note: {why}")
    measured = ([(r, f"{r['n']} x {r['key_type']}") for r in runs]
                + [(r, f"{r['command']} of {r['n']}") for r in results["list"]]
                + [(r, f"restart with {r['n']}") for r in results["restarts"]])
    for r, what in measured:
        mb, md = r.get("machine_before", {}), r.get("machine_during", {})
        if mb.get("busy", 0) > 0.05 or mb.get("iowait", 0) > 0.05:
            print(f"note: other work kept the machine busy before {r['daemon']} {what} "
                  f"({mb['busy']:.0%} CPU, {mb['iowait']:.0%} I/O wait): that figure is "
                  f"pessimistic")
        elif md.get("others_cpu", 0) > 0.05:
            print(f"note: other work took {md['others_cpu']:.0%} of the CPUs during "
                  f"{r['daemon']} {what}: that figure is pessimistic")
    if "certmonger_global_state_untouched" in results:
        print("note: certmonger's global state (/var/lib/certmonger) was "
              + ("left untouched" if results.get("certmonger_global_state_untouched")
                 else "CHANGED"))
    print()


def tpm_figures(args):
    """TPM key generation and CSR signing on a swtpm of our own (ck-bench-tpm)."""
    tool = os.path.join(args.build, "daemon", "ck-bench-tpm")
    if not os.path.exists(tool):
        raise BenchError(f"{tool} is missing: the build has no TPM support (libtss2-dev)")
    for program in ("swtpm", "swtpm_ioctl"):
        if shutil.which(program) is None:
            raise BenchError(f"{program} is missing (apt-get install swtpm swtpm-tools)")
    work = tempfile.mkdtemp(prefix="certkeeper-bench-tpm-")
    sock = os.path.join(work, "tpm.sock")
    pid_file = os.path.join(work, "swtpm.pid")
    env = dict(os.environ, TSS2_LOG="all+none")
    try:
        subprocess.run(["swtpm", "socket", "--tpm2", "--server", f"type=unixio,path={sock}",
                        "--ctrl", f"type=unixio,path={sock}.ctrl", "--tpmstate", f"dir={work}",
                        "--flags", "not-need-init,startup-clear", "--daemon",
                        "--pid", f"file={pid_file}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = mono() + 10
        while not os.path.exists(sock) and mono() < deadline:
            time.sleep(0.05)
        log(f"TPM: {args.tpm_rounds} key generations and CSRs per key type on swtpm")
        out = subprocess.run([tool, "--tcti", f"swtpm:path={sock}",
                              "--rounds", str(args.tpm_rounds)],
                             env=env, capture_output=True, text=True, timeout=args.timeout)
        if out.returncode != 0:
            raise BenchError(f"ck-bench-tpm failed: {out.stderr.strip()}")
        raw = json.loads(out.stdout)
    finally:
        subprocess.run(["swtpm_ioctl", "--unix", f"{sock}.ctrl", "-s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    figures = {}
    for key_type, ops in raw.items():
        figures[key_type] = {op: {"median_ms": statistics.median(ms), "min_ms": min(ms),
                                  "max_ms": max(ms), "n": len(ms)}
                             for op, ms in ops.items()}
    return figures


def report_tpm(figures):
    print("TPM key provider on swtpm (milliseconds: median, min, max)")
    print(f"  {'key type':<10} {'operation':<26} {'median':>9} {'min':>9} {'max':>9}  n")
    names = {"generate": "key generation", "csr": "CSR (load + sign in TPM)"}
    for key_type, ops in figures.items():
        for op, f in ops.items():
            print(f"  {key_type:<10} {names.get(op, op):<26} {f['median_ms']:>9.1f} "
                  f"{f['min_ms']:>9.1f} {f['max_ms']:>9.1f}  {f['n']}")
    print()


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="tools/bench", description=__doc__.split("\n\n")[0],
        epilog="Targets: >= 20x faster than certmonger at N=1,000; list of 1,000 < 100 ms; "
               "RSS at 10,000 < 32 MiB; ready with 10,000 < 2 s; zero idle wake-ups.")
    p.add_argument("--n", default="100,1000",
                   help="numbers of requests to time, comma-separated (default 100,1000)")
    p.add_argument("--big", type=int, default=10000,
                   help="requests for the memory, restart and idle figures (default 10000; 0: skip)")
    p.add_argument("--idle", type=float, default=60,
                   help="idle window in seconds (default 60; 0: skip)")
    p.add_argument("--skip-certmonger", action="store_true", help="run certkeeper only")
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: --n 20,100 --big 500 --idle 5, fewer list runs")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--jobs", type=int, default=8,
                   help="parallel CLI invocations when submitting (default 8)")
    p.add_argument("--list-runs", type=int, default=15, help="timed runs per list command")
    p.add_argument("--restarts", type=int, default=3,
                   help="restarts whose median gives the start-up time (default 3)")
    p.add_argument("--timeout", type=float, default=3600,
                   help="give up on one run after this many seconds (default 3600)")
    p.add_argument("--certmonger-big-budget", type=float, default=3600,
                   help="run certmonger with --big requests only if that is estimated to take "
                        "less than this many seconds (default 3600)")
    p.add_argument("--wait-quiet", type=float, default=60, metavar="SECONDS",
                   help="before each timed run, wait up to this long for other work on the "
                        "machine to stop (default 60); runs that still overlap it are flagged")
    p.add_argument("--tpm", action="store_true",
                   help="also time TPM key generation and CSR signing on a swtpm")
    p.add_argument("--tpm-only", action="store_true", help="only the TPM figures")
    p.add_argument("--tpm-rounds", type=int, default=10,
                   help="key generations and CSRs per key type for the TPM figures (default 10)")
    p.add_argument("--build", default=os.path.join(TOP, "_build", "bench"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        # certmonger is not run with --big here: at its pace that alone would
        # take many minutes
        args.n, args.big, args.idle, args.list_runs = "20,100", 500, 5, 5
        args.certmonger_big_budget = 0
    try:
        args.n = sorted({int(x) for x in args.n.split(",") if x.strip()})
    except ValueError:
        p.error("--n wants numbers separated by commas, e.g. 100,1000")
    if (not args.n or min(args.n) < 1 or args.big < 0 or args.idle < 0 or args.jobs < 1
            or args.tpm_rounds < 1):
        p.error("numbers must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: run as root (tools/bench)", file=sys.stderr)
        return 1

    # TERM and HUP unwind like Ctrl-C, through the finally below
    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    if args.tpm_only:
        try:
            figures = tpm_figures(args)
        except BenchError as e:
            log(f"bench: {e}")
            return 1
        report_tpm(figures)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"tpm": figures}, f, indent=2)
            log(f"wrote {args.json}")
        return 0

    bench, status = None, 0
    try:
        bench = Bench(args)
        bench.run()
        if args.tpm:
            bench.results["tpm"] = tpm_figures(args)
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        status = 130
    except BenchError as e:
        log(f"bench: {e}")
        status = 1
    finally:
        if bench is not None:
            # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            bench.cleanup()
    if bench is None:
        return status
    if status != 0:
        bench.results["incomplete"] = True
        log("the figures below are incomplete")
    report(bench.results, args)
    if "tpm" in bench.results:
        report_tpm(bench.results["tpm"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "build"},
                       **bench.results}, f, indent=2)
        log(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
