"""LATENCY: the latency monitor (events over a threshold) and per-command latency histograms.

Two mechanisms, as in Redis 7.0:

  - The latency monitor (Redis' latency.c).  With C{latency-monitor-threshold}
    N > 0, a command that runs N ms or longer adds a sample to the event
    C{command}, or C{fast-command} for commands flagged C{fast}.  Each event
    keeps its last 160 samples, one per second (a second sample in the same
    second keeps the larger latency), and its all-time maximum.  LATENCY
    LATEST, HISTORY, RESET, GRAPH (Redis' sparkline) and DOCTOR (Redis'
    report text for the events sonic records) read them.
  - Latency tracking (C{latency-tracking yes}, the default): every command's
    duration in whole microseconds is counted per command (spec.latency_usec,
    usec -> calls; durations of 1024 us and more are rounded down to 10
    significant bits so the table stays small).  Reports re-bucket those
    counts the way Redis' HdrHistogram (1 ns .. 1 s, 2 significant digits,
    durations recorded as usec * 1000 ns) buckets them, so LATENCY HISTOGRAM
    (cumulative counts at 1, 2, 4, 8... us) and INFO latencystats
    (C{p50=1.003,...}) give the numbers Redis would for the same durations.

Events other than C{command}/C{fast-command} (fork, expire-cycle, aof-*...)
are not recorded by sonic.
"""

from collections import deque
import time

from sonic.errors import CommandError
from sonic.registry import all_specs, lookup
from sonic.registry import command
from sonic.resp import Status, Verbatim

__all__ = ["LatencyMonitor", "histogram_counts", "percentile", "latencystats"]

TS_LEN = 160
GRAPH_COLS = 80

HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
]


def round_usec(usec):
    """Round a long duration down to 10 significant bits (the dispatcher's table key)."""
    shift = usec.bit_length() - 10
    return usec >> shift << shift


def _hdr_bucket(ns):
    """(lowest, highest) equivalent values of C{ns} in Redis' HdrHistogram (2 significant digits)."""
    shift = max(ns.bit_length() - 8, 0)
    low = ns >> shift << shift
    return low, low + (1 << shift) - 1


def histogram_counts(latency_usec):
    """Sorted [(hdr lowest ns, hdr highest ns, count)] from a usec -> calls table."""
    buckets = {}
    for usec, n in latency_usec.items():
        ns = max(1, usec * 1000)
        key = _hdr_bucket(ns)
        buckets[key] = buckets.get(key, 0) + n
    return sorted((low, high, n) for (low, high), n in buckets.items())


def percentile(counts, p):
    """hdr_value_at_percentile over L{histogram_counts} output, in ns."""
    total = sum(n for _, _, n in counts)
    if not total:
        return 0
    want = int((min(p, 100.0) / 100) * total + 0.5)
    want = max(want, 1)
    seen = 0
    for low, high, n in counts:
        seen += n
        if seen >= want:
            return low if p == 0.0 else high
    return 0


def cumulative(counts):
    """LATENCY HISTOGRAM's buckets: [(usec, cumulative calls)] at 1024 ns * 2^k, as hdr_iter_log."""
    total = sum(n for _, _, n in counts)
    out = []
    level = 1024
    previous = 0
    while True:
        high = _hdr_bucket(level)[1]
        cum = sum(n for low, _, n in counts if low <= high)
        if cum > previous:
            out.append((high // 1000, cum))
        previous = cum
        if cum >= total:
            return out
        level *= 2


def _format_percentile(p):
    text = "%f" % p
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def latencystats(server):
    """INFO latencystats: C{latency_percentiles_usec_<cmd>:p50=...} for every command run."""
    if not getattr(server, "latency_tracking", True):
        return []
    percentiles = getattr(server, "latency_percentiles", (50.0, 99.0, 99.9))
    out = []
    for spec in all_specs():
        table = getattr(spec, "latency_usec", None)
        if not table:
            continue
        counts = histogram_counts(table)
        out.append(("latency_percentiles_usec_" + spec.fullname, ",".join(
            "p%s=%.3f" % (_format_percentile(p), percentile(counts, p) / 1000.0)
            for p in percentiles)))
    return out


class LatencyMonitor(object):
    """Latency events: name -> deque of [unix time, ms] (oldest first), and each event's maximum."""

    def __init__(self, server):
        self.server = server
        self.events = {}
        self.maxima = {}
        config = server.config
        server.latency_tracking = config.latency_tracking
        self._set_percentiles(config.latency_tracking_info_percentiles)
        config.on_change("latency-tracking", lambda v: setattr(server, "latency_tracking", v))
        config.on_change("latency-tracking-info-percentiles", self._set_percentiles)

    def _set_percentiles(self, text):
        self.server.latency_percentiles = tuple(float(w) for w in text.split())

    def add_sample(self, event, ms):
        """Redis' latencyAddSample."""
        now = int(time.time())
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = deque(maxlen=TS_LEN)
            self.maxima[event] = 0
        if ms > self.maxima[event]:
            self.maxima[event] = ms
        if series and series[-1][0] == now:
            if ms > series[-1][1]:
                series[-1][1] = ms
            return
        series.append([now, ms])

    def reset(self, names=None):
        """Forget C{names} (all events if None); return how many existed."""
        if names is None:
            names = list(self.events)
        n = 0
        for name in names:
            if self.events.pop(name, None) is not None:
                del self.maxima[name]
                n += 1
        return n

    def graph(self, event):
        """Redis' latencyCommandGenSparkeline."""
        series = self.events[event]
        now = int(time.time())
        samples = []
        for when, ms in series:
            elapsed = now - when
            if elapsed < 60:
                label = "%ds" % elapsed
            elif elapsed < 3600:
                label = "%dm" % (elapsed // 60)
            elif elapsed < 86400:
                label = "%dh" % (elapsed // 3600)
            else:
                label = "%dd" % (elapsed // 86400)
            samples.append((ms, label))
        values = [v for v, _ in samples]
        high, low = (max(values), min(values)) if values else (0, 0)
        out = ["%s - high %d ms, low %d ms (all time high %d ms)\n" % (
            event, high, low, self.maxima[event]), "-" * GRAPH_COLS + "\n"]
        for j in range(0, len(samples), GRAPH_COLS):
            if j:
                out.append("\n")
            out.append(_sparkline(samples[j:j + GRAPH_COLS], low, high, 4))
        return "".join(out)

    def _stats(self, event):
        """Redis' analyzeLatencyForEvent: (samples, avg, mad, period)."""
        values = [ms for _, ms in self.events[event]]
        n = len(values)
        if not n:
            return 0, 0, 0, 0
        avg = sum(values) // n
        period = int(time.time()) - min(t for t, _ in self.events[event])
        if period == 0:
            period = 1
        mad = sum(abs(avg - v) for v in values) // n
        return n, avg, mad, period

    def doctor(self):
        """Redis' createLatencyReport, for the events sonic records."""
        server = self.server
        config = server.config
        threshold = config.latency_monitor_threshold
        if not self.events and threshold == 0:
            return ("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
                    "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
                    "order to enable it. If we weren't in a deep space mission I'd suggest to take a "
                    "look at https://redis.io/topics/latency-monitor.\n")
        report = []
        advices = 0
        slowlog_enabled = slowlog_tuning = slowlog_inspect = large_objects = scheduler = False
        slower = config.slowlog_log_slower_than
        for num, event in enumerate(self.events, 1):
            if num == 1:
                report.append("Dave, I have observed latency spikes in this Redis instance. "
                              "You don't mind talking about it, do you Dave?\n\n")
            n, avg, mad, period = self._stats(event)
            report.append("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period "
                          "%.2f sec). Worst all time event %dms." % (
                              num, event, n, avg, mad, period / n if n else 0.0, self.maxima[event]))
            if event == "command":
                if slower < 0 or config.slowlog_max_len == 0:
                    slowlog_enabled = True
                    advices += 1
                elif slower // 1000 > threshold:
                    slowlog_tuning = True
                    advices += 1
                slowlog_inspect = large_objects = True
                advices += 2
            if event == "fast-command":
                scheduler = True
                advices += 1
            report.append("\n")
        if not self.events and not advices:
            report.append("Dave, no latency spike was observed during the lifetime of this Redis "
                          "instance, not in the slightest bit. I honestly think you ought to sleep "
                          "tonight.\n")
        elif not advices:
            report.append("\nWhile there are latency events logged, I'm not able to suggest any "
                          "easy fix. Please use the Redis community to get some help, providing "
                          "this report in your request.\n")
        else:
            report.append("\nI have a few advices for you:\n\n")
            if slowlog_enabled:
                report.append("- There are latency issues with potentially slow commands you are "
                              "using. Try to enable the Slow Log Redis feature using the command "
                              "'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is disabled "
                              "Redis is not able to log slow commands execution for you.\n"
                              % (threshold * 1000))
            if slowlog_tuning:
                report.append("- Your current Slow Log configuration only logs events that are "
                              "slower than your configured latency monitor threshold. Please use "
                              "'CONFIG SET slowlog-log-slower-than %d'.\n" % (threshold * 1000))
            if slowlog_inspect:
                report.append("- Check your Slow Log to understand what are the commands you are "
                              "running which are too slow to execute. Please check "
                              "https://redis.io/commands/slowlog for more information.\n")
            if scheduler:
                report.append("- The system is slow to execute Redis code paths not containing "
                              "system calls. This usually means the system does not provide Redis "
                              "CPU time to run for long periods. You should try to:\n"
                              "  1) Lower the system load.\n"
                              "  2) Use a computer / VM just for Redis if you are running other "
                              "software in the same system.\n"
                              "  3) Check if you have a \"noisy neighbour\" problem.\n"
                              "  4) Check with 'redis-cli --intrinsic-latency 100' what is the "
                              "intrinsic latency in your system.\n"
                              "  5) Check if the problem is allocator-related by recompiling Redis "
                              "with MALLOC=libc, if you are using Jemalloc. However this may create "
                              "fragmentation problems.\n")
            if large_objects:
                report.append("- Deleting, expiring or evicting (because of maxmemory policy) "
                              "large objects is a blocking operation. If you have very large objects "
                              "that are often deleted, expired, or evicted, try to fragment those "
                              "objects into multiple smaller objects.\n")
        return "".join(report)


def _sparkline(samples, low, high, rows):
    """Redis' sparklineRenderRange with SPARKLINE_FILL: C{samples} are (value, label)."""
    charset = "_o#"
    steps = len(charset) * rows
    relmax = float(high - low) or 1.0
    width = len(samples)
    lines = []
    row = 0
    while True:
        chars = [" "] * width
        more = False
        for j, (value, label) in enumerate(samples):
            step = int(int((value - low) * steps) / relmax)
            step = min(max(step, 0), steps - 1)
            if row < rows:
                idx = step - (rows - row - 1) * len(charset)
                more = True
                if 0 <= idx < len(charset):
                    chars[j] = charset[idx]
                elif idx >= len(charset):
                    chars[j] = "|"
            else:
                if row - rows < 1:  # the margin above the labels
                    more = True
                    break
                k = row - rows - 1
                if len(label) > k:
                    more = True
                    chars[j] = label[k]
        if not more:
            break
        row += 1
        lines.append("".join(chars) + "\n")
    return "".join(lines)


def _bad_subcommand(client):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. Try LATENCY HELP."
                        % client.argv[1].decode("utf-8", "replace"))


@command("latency|latest")
def latency_latest(client):
    """LATENCY LATEST"""
    mon = client.server.latency
    return [[name.encode(), series[-1][0], series[-1][1], mon.maxima[name]]
            for name, series in mon.events.items()]


@command("latency|history")
def latency_history(client, event):
    """LATENCY HISTORY event"""
    series = client.server.latency.events.get(event.decode("utf-8", "surrogateescape"))
    if series is None:
        return []
    return [[when, ms] for when, ms in series]


@command("latency|reset")
def latency_reset(client, *events):
    """LATENCY RESET [event [event ...]]"""
    mon = client.server.latency
    if not events:
        return mon.reset()
    return mon.reset(list(dict.fromkeys(e.decode("utf-8", "surrogateescape") for e in events)))


@command("latency|graph")
def latency_graph(client, event):
    """LATENCY GRAPH event"""
    name = event.decode("utf-8", "surrogateescape")
    mon = client.server.latency
    if name not in mon.events:
        raise CommandError("ERR No samples available for event '%s'" % name)
    return Verbatim(mon.graph(name).encode("utf-8", "surrogateescape"))


@command("latency|doctor")
def latency_doctor(client):
    """LATENCY DOCTOR"""
    return Verbatim(client.server.latency.doctor().encode())


def _histogram_entry(spec):
    counts = histogram_counts(spec.latency_usec)
    return {"calls": sum(n for _, _, n in counts),
            "histogram_usec": dict(cumulative(counts))}


@command("latency|histogram")
def latency_histogram(client, *names):
    """LATENCY HISTOGRAM [command [command ...]]

    A container name (CLIENT) stands for all its subcommands; names of
    unknown or never-run commands are left out.
    """
    specs = []
    if not names:
        specs = [s for s in all_specs() if s.handler is not None]
    else:
        for name in names:
            parent, _, sub = name.lower().partition(b"|")
            spec = lookup(parent)
            if spec is None:
                continue
            if sub:
                spec = spec.subcommands.get(sub)
                if spec is not None:
                    specs.append(spec)
            elif spec.subcommands:
                seen = set()
                for s in spec.subcommands.values():
                    if s.fullname not in seen:
                        seen.add(s.fullname)
                        specs.append(s)
            else:
                specs.append(spec)
    out = {}
    for spec in specs:
        if getattr(spec, "latency_usec", None) and spec.fullname not in out:
            out[spec.fullname] = _histogram_entry(spec)
    return out


@command("latency|help")
def latency_help(client):
    """LATENCY HELP"""
    return [Status(line.encode()) for line in HELP]
