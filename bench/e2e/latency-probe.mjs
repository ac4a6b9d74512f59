// Where a process's time goes, for bench/e2e/latency.mjs: imported first by the benchmark's
// server and client processes, and active only when HYBRIDWIRE_PROBES is set (latency.mjs sets it
// for the processes it starts), it records every garbage collection
// (perf_hooks 'gc' entries), every timer callback (setTimeout and setInterval are wrapped: when
// it ran, for how long, how late, and whose it was), the event loop's delay
// (monitorEventLoopDelay) and utilisation, and the process's context switches. Times are on the
// system's monotonic clock (process.hrtime), which every process shares, so that events in the
// server can be laid beside round trips timed in the client.
//
// HYBRIDWIRE_PROBES lists what to record: gc, timers, loop ('none' for nothing but the clock),
// and on request alloc: V8's sampling heap profiler, counting objects that die young too, says
// how many bytes the window allocated and in which functions (what makes the GCs).
// Every record is bounded: past MAX_EVENTS of a kind, events are counted but not kept.
import { Session } from 'node:inspector/promises';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';

const MAX_EVENTS = 200_000;
/** Bytes between two samples of the heap profiler: a sample per 16 KiB costs little. */
const ALLOCATION_SAMPLE_BYTES = 16 * 1024;
const ALLOCATION_SITES = 15;
const LOOP_RESOLUTION_MS = 1;
const KEY = Symbol.for('hybridwire.bench.latencyProbe');
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** performance.now() + offset = milliseconds on the monotonic clock shared by every process. */
const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const toMonotonic = (now) => now + offset;

class EventLog {
  constructor() {
    this.at = new Float64Array(MAX_EVENTS);
    this.ms = new Float64Array(MAX_EVENTS);
    this.extra = new Float64Array(MAX_EVENTS); // lateness of a timer
    this.label = new Array(MAX_EVENTS);
    this.length = 0;
    this.dropped = 0;
  }

  push(at, ms, label, extra = 0) {
    if (this.length === MAX_EVENTS) {
      this.dropped++;
      return;
    }
    const i = this.length++;
    this.at[i] = at;
    this.ms[i] = ms;
    this.extra[i] = extra;
    this.label[i] = label;
  }

  /** The events that overlap [from, to] (monotonic ms), as plain arrays. */
  between(from, to) {
    const out = [];
    for (let i = 0; i < this.length; i++) {
      if (this.at[i] + this.ms[i] >= from && this.at[i] <= to) out.push([this.at[i], this.ms[i], this.label[i], this.extra[i]]);
    }
    return out;
  }
}

function installGc(log) {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) log.push(toMonotonic(entry.startTime), entry.duration, GC_KINDS[entry.detail?.kind ?? entry.kind] ?? 'other');
  });
  observer.observe({ entryTypes: ['gc'] });
}

/** Names a timer by its callback's name, or where it was created when it has none. */
const siteOf = new WeakMap();
function timerName(callback) {
  if (callback.name) return callback.name;
  let site = siteOf.get(callback);
  if (site === undefined) {
    // Frames: the message, timerName, wrap, the patched setTimeout, then its caller.
    const frame = new Error().stack?.split('\n')[4] ?? '';
    const match = /\(?([^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
    site = match ? `(anonymous) ${path.basename(match[1])}:${match[2]}` : '(anonymous)';
    siteOf.set(callback, site);
  }
  return site;
}

function installTimers(log) {
  const { setTimeout: originalTimeout, setInterval: originalInterval } = globalThis;
  const wrap = (callback, delay, repeat) => {
    const ms = Math.max(1, Number(delay) || 0);
    const name = timerName(callback);
    let due = performance.now() + ms;
    return function timed(...args) {
      const start = performance.now();
      try {
        return callback.apply(this, args);
      } finally {
        const end = performance.now();
        log.push(toMonotonic(start), end - start, name, start - due);
        if (repeat) due = start + ms;
      }
    };
  };
  globalThis.setTimeout = function setTimeout(callback, delay, ...args) {
    return typeof callback === 'function' ? originalTimeout(wrap(callback, delay, false), delay, ...args) : originalTimeout(callback, delay, ...args);
  };
  globalThis.setInterval = function setInterval(callback, delay, ...args) {
    return typeof callback === 'function' ? originalInterval(wrap(callback, delay, true), delay, ...args) : originalInterval(callback, delay, ...args);
  };
}

/** Bytes allocated per function (name and file:line), from a sampling heap profile's tree. */
function allocationSites(profile) {
  const sites = new Map();
  let total = 0;
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'}${url ? ` ${path.basename(url)}:${lineNumber + 1}` : ''}`;
    sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const top = [...sites].sort((a, b) => b[1] - a[1]).slice(0, ALLOCATION_SITES).map(([site, bytes]) => ({ site, bytes }));
  return { bytes: total, sites: top };
}

function install() {
  if (globalThis[KEY]) return globalThis[KEY];
  if (process.env.HYBRIDWIRE_PROBES === undefined) return undefined;
  const probes = new Set((process.env.HYBRIDWIRE_PROBES ?? 'gc,timers,loop').split(',').map((name) => name.trim()).filter(Boolean));
  const gc = new EventLog();
  const timers = new EventLog();
  if (probes.has('gc')) installGc(gc);
  if (probes.has('timers')) installTimers(timers);
  let loop;
  let window;
  let inspector;
  const probe = {
    probes: [...probes],
    toMonotonic,
    /** Starts a measuring window: resets the loop-delay histogram and takes the counters. */
    async begin() {
      if (probes.has('alloc')) {
        if (!inspector) {
          inspector = new Session();
          inspector.connect();
          await inspector.post('HeapProfiler.enable');
        }
        await inspector.post('HeapProfiler.startSampling', {
          samplingInterval: ALLOCATION_SAMPLE_BYTES,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      }
      if (probes.has('loop')) {
        loop ??= monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
        loop.disable();
        loop.reset();
        loop.enable();
      }
      window = { from: toMonotonic(performance.now()), utilization: performance.eventLoopUtilization(), usage: process.resourceUsage() };
    },
    /** What happened since begin(), events included (all of them that overlap the window). */
    async end() {
      const to = toMonotonic(performance.now());
      const allocation = inspector ? allocationSites((await inspector.post('HeapProfiler.stopSampling')).profile) : undefined;
      const { from } = window;
      const usage = process.resourceUsage();
      let loopDelay;
      if (loop) {
        loop.disable();
        const us = (ns) => ns / 1000;
        loopDelay = {
          resolutionMs: LOOP_RESOLUTION_MS,
          count: loop.count,
          p50Us: us(loop.percentile(50)),
          p99Us: us(loop.percentile(99)),
          p999Us: us(loop.percentile(99.9)),
          maxUs: us(loop.max),
        };
      }
      return {
        from,
        to,
        probes: [...probes],
        gc: gc.between(from, to),
        timers: timers.between(from, to),
        dropped: { gc: gc.dropped, timers: timers.dropped },
        loopDelay,
        allocation,
        utilization: performance.eventLoopUtilization(window.utilization).utilization,
        contextSwitches: {
          voluntary: usage.voluntaryContextSwitches - window.usage.voluntaryContextSwitches,
          involuntary: usage.involuntaryContextSwitches - window.usage.involuntaryContextSwitches,
        },
        cpuMs: (usage.userCPUTime + usage.systemCPUTime - window.usage.userCPUTime - window.usage.systemCPUTime) / 1000,
      };
    },
  };
  globalThis[KEY] = probe;
  return probe;
}

const probe = install();

function active() {
  if (!probe) throw new Error('no latency probe in this process (HYBRIDWIRE_PROBES was not set when it started)');
  return probe;
}

/** The ops a benchmark process answers for latency.mjs: a window's begin and end. */
export const probeOps = {
  probeBegin: () => active().begin(),
  probeEnd: () => active().end(),
};

/** performance.now() time -> the shared monotonic clock, when the probe is active. */
export const monotonic = probe ? toMonotonic : undefined;
