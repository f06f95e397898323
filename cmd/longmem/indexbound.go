package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

// indexMemoryShare is the share of the process's memory the embedded index
// may hold when recall.max_index_bytes is 0.
const indexMemoryShare = 4 // a quarter

// fallbackMemory is assumed when no memory limit can be read.
const fallbackMemory = 4 << 30

// indexBytes is the embedded index's byte bound for cfg: max_index_bytes
// when > 0, none when < 0, else a quarter of the memory the process may use.
func indexBytes(cfg RecallConfig) int64 {
	switch {
	case cfg.MaxIndexBytes > 0:
		return cfg.MaxIndexBytes
	case cfg.MaxIndexBytes < 0:
		return 0
	}
	return availableMemory() / indexMemoryShare
}

// availableMemory is the smallest of GOMEMLIMIT, the cgroup (v2 or v1)
// memory limit and the machine's MemTotal that is set.
func availableMemory() int64 {
	best := int64(0)
	consider := func(n int64) {
		if n > 0 && (best == 0 || n < best) {
			best = n
		}
	}
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < 1<<62 {
		consider(lim)
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && n < 1<<62 {
				consider(n)
			}
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					consider(kb << 10)
				}
			}
		}
		f.Close()
	}
	if best == 0 {
		best = fallbackMemory
	}
	return best
}

// registerIndexMetrics exposes what the embedded index holds on reg; other
// indexes have nothing to show.
func registerIndexMetrics(reg prometheus.Registerer, idx retrieval.Index) error {
	e, ok := idx.(*embeddedindex.Index)
	if !ok {
		return nil
	}
	gauge := func(name, help string, f func(embeddedindex.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(e.Stats()) })
	}
	counter := func(name, help string, f func(embeddedindex.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(e.Stats()) })
	}
	return errors.Join(
		reg.Register(gauge("longmem_index_bytes", "Heap the embedded recall index holds, as it measures itself.",
			func(s embeddedindex.Stats) float64 { return float64(s.Bytes) })),
		reg.Register(gauge("longmem_index_max_bytes", "The embedded recall index's byte bound (recall.max_index_bytes; 0: none).",
			func(embeddedindex.Stats) float64 { return float64(e.MaxBytes()) })),
		reg.Register(gauge("longmem_index_conversations", "Conversations the embedded recall index holds.",
			func(s embeddedindex.Stats) float64 { return float64(s.Conversations) })),
		reg.Register(gauge("longmem_index_docs", "Turns the embedded recall index holds.",
			func(s embeddedindex.Stats) float64 { return float64(s.Docs) })),
		reg.Register(counter("longmem_index_evictions_total", "Conversations the embedded recall index evicted to stay within its bounds.",
			func(s embeddedindex.Stats) float64 { return float64(s.Evictions) })),
		reg.Register(counter("longmem_index_rebuilds_total", "Conversations the embedded recall index built up from empty (after a start, an eviction or a delete).",
			func(s embeddedindex.Stats) float64 { return float64(s.Rebuilds) })),
	)
}
