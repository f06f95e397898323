package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/longmem/longmem/memory"
)

// Store is what the worker needs of a store: the reads of memory.Store and
// the optional memory.SummaryStore. Both built-in backends satisfy it.
type Store interface {
	GetConversation(ctx context.Context, tenant, id string) (memory.Conversation, error)
	Turns(ctx context.Context, tenant, id string, afterSeq int64, limit int) ([]memory.Turn, error)
	memory.SummaryStore
}

// ForgottenSummary is the content of a rebuilt summary whose every turn
// was forgotten (a summary's content is never empty).
const ForgottenSummary = "(The turns of this period were forgotten.)"

// ProducerNone is the Producer of ForgottenSummary.
const ProducerNone = "none"

// Deps are the worker's collaborators.
type Deps struct {
	Store Store
	// Tokenizer counts summary tokens and turns stored with 0 tokens
	// (retrieval.Tokenizer satisfies it). Required.
	Tokenizer Tokenizer
	// Summarizer writes summaries; nil means NewExtractive(Tokenizer). When
	// it fails, or returns an empty or overlong summary, the extractive
	// summarizer writes that summary.
	Summarizer Summarizer
	// Queue distributes tasks; nil means a NewMemQueue of this worker.
	Queue Queue
	// Registerer receives the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Logger (nil: discard) and Clock (nil: time.Now).
	Logger *slog.Logger
	Clock  func() time.Time
	// AfterRun, when set, is called after every task the background loop
	// ran (not after CompactNow), from the goroutine that ran it.
	AfterRun func(Task, Result, error)
}

// Result reports one compaction run of a conversation.
type Result struct {
	// Written are the summaries written, in order, as stored.
	Written []memory.Summary `json:"written"`
	// Rebuilt counts the stale summaries among Written.
	Rebuilt int `json:"rebuilt"`
	// Conflicts counts jobs another worker had done first (re-planned).
	Conflicts int `json:"conflicts"`
	// LagBefore and Lag are the turns older than the recent window not
	// covered at level 0, when the run began and when it ended (after a
	// run Lag counts only the still-open chunk; 0 after CompactNow).
	LagBefore int `json:"lag_before"`
	Lag       int `json:"lag"`
	// OpenUntil is when the open chunk will be folded at the latest.
	OpenUntil time.Time `json:"open_until,omitzero"`
}

// Worker compacts conversations in the background, like Prometheus tsdb's
// compaction loop: Run with a timer and a non-blocking trigger, bounded
// concurrency, exponential backoff per conversation, a clean stop. Work on
// one conversation is serialised within a process; across processes,
// AddSummary's chain check makes a duplicate run harmless. Safe for
// concurrent use; call Run once.
type Worker struct {
	cfg        Config
	store      Store
	tok        Tokenizer
	sum        Summarizer
	extractive *Extractive
	queue      Queue
	log        *slog.Logger
	now        func() time.Time
	afterRun   func(Task, Result, error)
	m          *metrics

	locks [64]sync.Mutex // per conversation, striped
	wake  chan struct{}

	mu    sync.Mutex
	dirty map[convKey]dirtyEntry // conversations to visit, and when
	// outages counts the runs in a row that found the storage unavailable
	// (memory.ErrUnavailable); until then nothing is dispatched.
	outages     int
	outageUntil time.Time
}

// dirtyEntry schedules a conversation: push it to the queue at due.
type dirtyEntry struct {
	due     time.Time
	attempt int
}

// NewWorker wires a worker. It registers the metrics and starts nothing.
func NewWorker(cfg Config, deps Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Tokenizer == nil {
		return nil, errors.New("compaction: NewWorker needs a Store and a Tokenizer")
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg.withDefaults(), store: deps.Store, tok: deps.Tokenizer, sum: deps.Summarizer,
		extractive: NewExtractive(deps.Tokenizer), queue: deps.Queue, log: deps.Logger, now: deps.Clock,
		afterRun: deps.AfterRun, m: m, wake: make(chan struct{}, 1), dirty: map[convKey]dirtyEntry{}}
	if w.sum == nil {
		w.sum = w.extractive
	}
	if w.queue == nil {
		w.queue = NewMemQueue()
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// Trigger asks for the conversation to be compacted soon (after an append).
// It never blocks and does no I/O. A conversation backing off after a
// failure keeps its backoff.
func (w *Worker) Trigger(tenant, conv string) {
	k := convKey{tenant, conv}
	now := w.now()
	w.mu.Lock()
	e, ok := w.dirty[k]
	if !ok || (e.attempt == 0 && e.due.After(now)) {
		w.dirty[k] = dirtyEntry{due: now, attempt: e.attempt}
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run compacts triggered conversations until ctx ends, then waits for the
// runs in progress to stop and returns nil. A run interrupted by the stop
// is abandoned (a shared queue hands it to another worker); what it wrote
// stays valid.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.consume(ctx)
		}()
	}
	defer wg.Wait()
	timer := time.NewTimer(w.cfg.Interval)
	defer timer.Stop()
	for {
		w.dispatch(ctx)
		// Sleep until the earliest scheduled visit (an open chunk's quiet
		// deadline, a retry), at most Interval.
		timer.Reset(w.untilNext())
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// untilNext is how long the loop may sleep: until the earliest scheduled
// visit, at least a millisecond and at most Interval.
func (w *Worker) untilNext() time.Duration {
	d := w.cfg.Interval
	now := w.now()
	w.mu.Lock()
	for _, e := range w.dirty {
		d = min(d, e.due.Sub(now))
	}
	if w.outageUntil.After(now) {
		d = max(d, w.outageUntil.Sub(now)) // nothing runs before
	}
	w.mu.Unlock()
	return max(d, time.Millisecond)
}

// dispatch pushes the conversations that are due to the queue, earliest
// first.
func (w *Worker) dispatch(ctx context.Context) {
	now := w.now()
	type due struct {
		k convKey
		e dirtyEntry
	}
	var ready []due
	w.mu.Lock()
	if w.outageUntil.After(now) {
		w.mu.Unlock()
		return // the storage is down: every conversation waits
	}
	for k, e := range w.dirty {
		if !e.due.After(now) {
			ready = append(ready, due{k, e})
			delete(w.dirty, k)
		}
	}
	w.mu.Unlock()
	slices.SortFunc(ready, func(a, b due) int {
		return cmp.Or(a.e.due.Compare(b.e.due), cmp.Compare(a.k.tenant, b.k.tenant), cmp.Compare(a.k.conv, b.k.conv))
	})
	for _, r := range ready {
		t := Task{Tenant: r.k.tenant, Conversation: r.k.conv, Attempt: r.e.attempt}
		if err := w.queue.Push(ctx, t); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("compaction: enqueue failed; retrying later", "tenant", t.Tenant, "conversation", t.Conversation, "err", err)
			w.schedule(r.k, now.Add(w.cfg.BackoffMin), r.e.attempt, false)
		}
	}
}

// schedule sets when to visit a conversation next. With force the entry is
// replaced (a failure's backoff); otherwise an earlier visit already
// scheduled wins.
func (w *Worker) schedule(k convKey, at time.Time, attempt int, force bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.dirty[k]; ok && !force && !e.due.After(at) {
		return
	}
	w.dirty[k] = dirtyEntry{due: at, attempt: attempt}
}

// consume runs tasks from the queue until ctx ends.
func (w *Worker) consume(ctx context.Context) {
	for {
		d, err := w.queue.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("compaction: reading the queue failed", "err", err)
			if !sleep(ctx, w.cfg.BackoffMin) {
				return
			}
			continue
		}
		t := d.Task()
		res, err := w.run(ctx, t, false)
		if ctx.Err() != nil {
			d.Abandon()
			return
		}
		if aerr := d.Ack(ctx); aerr != nil {
			w.log.Warn("compaction: ack failed; the task may run again", "conversation", t.Conversation, "err", aerr)
		}
		if w.afterRun != nil {
			w.afterRun(t, res, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// CompactNow compacts one conversation synchronously, folding even its
// open chunk, so that every turn older than the recent window is covered
// when it returns nil. It waits for a background run of the same
// conversation in this process to finish first. ErrNotFound (wrapped) for
// an unknown conversation.
func (w *Worker) CompactNow(ctx context.Context, tenant, conv string) (Result, error) {
	return w.run(ctx, Task{Tenant: tenant, Conversation: conv}, true)
}

// run compacts one conversation under its lock, then records metrics and
// schedules what is left: the open chunk's flush, or a retry after a
// failure.
func (w *Worker) run(ctx context.Context, t Task, flush bool) (Result, error) {
	k := t.key()
	mu := w.lock(k)
	mu.Lock()
	res, err := w.compact(ctx, t, flush)
	mu.Unlock()

	switch {
	case ctx.Err() != nil:
		return res, err
	case errors.Is(err, memory.ErrNotFound):
		w.m.runs.WithLabelValues("not_found").Inc()
		w.m.setLag(k, 0)
		w.mu.Lock()
		delete(w.dirty, k)
		w.mu.Unlock()
	case errors.Is(err, memory.ErrUnavailable):
		// The storage, not this conversation, failed: pause every visit
		// with one backoff, and keep the conversation's own attempts.
		w.m.runs.WithLabelValues("unavailable").Inc()
		w.mu.Lock()
		w.outages++
		wait := w.backoff(w.outages)
		w.outageUntil = w.now().Add(wait)
		w.mu.Unlock()
		w.log.Warn("compaction: storage unavailable; pausing compaction", "retry_in", wait, "err", err)
		w.schedule(k, w.now().Add(wait), t.Attempt, true)
	case err != nil:
		w.m.runs.WithLabelValues("error").Inc()
		attempt := t.Attempt + 1
		wait := w.backoff(attempt)
		w.log.Warn("compaction failed; backing off", "tenant", t.Tenant, "conversation", t.Conversation,
			"attempt", attempt, "retry_in", wait, "err", err)
		w.schedule(k, w.now().Add(wait), attempt, true)
	default:
		w.m.runs.WithLabelValues("ok").Inc()
		w.mu.Lock()
		w.outages = 0
		w.mu.Unlock()
		w.m.setLag(k, res.Lag)
		if res.Lag > 0 {
			w.schedule(k, later(res.OpenUntil, w.now().Add(w.cfg.Interval)), 0, false)
		}
	}
	return res, err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// backoff is the wait before attempt n (n ≥ 1): BackoffMin doubled n-1
// times, at most BackoffMax.
func (w *Worker) backoff(n int) time.Duration {
	d := w.cfg.BackoffMin
	for i := 1; i < n && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.BackoffMax)
}

func (w *Worker) lock(k convKey) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(k.tenant))
	h.Write([]byte{0})
	h.Write([]byte(k.conv))
	return &w.locks[h.Sum32()%uint32(len(w.locks))]
}

// maxIdlePasses bounds consecutive plans whose jobs all conflicted while
// the summaries stayed the same (a store that refuses what the plan
// expects it to accept).
const maxIdlePasses = 5

// compact plans and runs jobs until the plan is empty.
func (w *Worker) compact(ctx context.Context, t Task, flush bool) (Result, error) {
	var res Result
	conv, err := w.store.GetConversation(ctx, t.Tenant, t.Conversation)
	if err != nil {
		return res, fmt.Errorf("compaction: conversation %s: %w", t.Conversation, err)
	}
	lang := languageHint(conv.Metadata)
	var last fingerprint
	for pass, idle := 0, 0; ; pass++ {
		sums, err := w.store.Summaries(ctx, t.Tenant, t.Conversation)
		if err != nil {
			return res, fmt.Errorf("compaction: summaries of %s: %w", t.Conversation, err)
		}
		if fp := fingerprintOf(sums); fp != last {
			idle, last = 0, fp // progress, ours or another worker's
		}
		turns, err := w.store.Turns(ctx, t.Tenant, t.Conversation, ReadFrom(sums), 0)
		if err != nil {
			return res, fmt.Errorf("compaction: turns of %s: %w", t.Conversation, err)
		}
		for i := range turns {
			if turns[i].Tokens <= 0 {
				turns[i].Tokens = w.tok.Count(turns[i].Content)
			}
		}
		p := Plan(w.cfg, PlanInput{Turns: turns, Summaries: sums, Now: w.now(), Flush: flush})
		if pass == 0 {
			res.LagBefore = p.Lag
			w.m.lag.Observe(float64(p.Lag))
			w.m.setLag(t.key(), p.Lag)
		}
		res.Lag, res.OpenUntil = p.Lag, p.OpenUntil
		if len(p.Jobs) == 0 {
			return res, nil
		}
		wrote := false
		for _, j := range p.Jobs {
			s, err := w.write(ctx, t, conv.ID, lang, j)
			if errors.Is(err, memory.ErrConflict) || (j.Kind == Rebuild && errors.Is(err, memory.ErrNotFound)) {
				res.Conflicts++ // someone else wrote it: plan again
				break
			}
			if err != nil {
				return res, err
			}
			wrote = true
			res.Written = append(res.Written, s)
			if j.Kind == Rebuild {
				res.Rebuilt++
			}
		}
		if !wrote {
			if idle++; idle >= maxIdlePasses {
				return res, fmt.Errorf("compaction: %s: %d plans in a row conflicted with the store, which did not change", t.Conversation, idle)
			}
		}
	}
}

// fingerprint tells whether a conversation's summaries changed between
// two reads.
type fingerprint struct {
	n, stale int
	ends     int64
}

func fingerprintOf(sums []memory.Summary) fingerprint {
	var f fingerprint
	for _, s := range sums {
		f.n++
		f.ends += s.ToSeq
		if s.Stale {
			f.stale++
		}
	}
	return f
}

// languageHint reads a conversation's language from its metadata
// ("language" or "lang"), or "".
func languageHint(meta map[string]any) string {
	for _, k := range []string{"language", "lang"} {
		if s, ok := meta[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// write summarises a job and stores the summary. A turn of a level-0 job
// forgotten after the job read it makes the store refuse the summary
// (memory.Summary.TurnSeqs) with ErrConflict, and compact plans again from
// the turns that remain.
func (w *Worker) write(ctx context.Context, t Task, convID, lang string, j Job) (memory.Summary, error) {
	items, chunk := w.items(j)
	s := memory.Summary{ConversationID: convID, Level: j.Level, FromSeq: j.FromSeq, ToSeq: j.ToSeq,
		FromTime: j.FromTime, ToTime: j.ToTime, TurnSeqs: make([]int64, len(j.Turns))}
	for i, tu := range j.Turns {
		s.TurnSeqs[i] = tu.Seq
	}
	if len(items) == 0 {
		s.Content, s.Producer = ForgottenSummary, ProducerNone
	} else {
		target := min(w.cfg.SummaryTokens, chunk/3)
		if j.Level > 0 {
			target = min(w.cfg.LevelSummaryTokens, chunk/2)
		}
		if lang == "" {
			lang = DetectLanguage(sample(items))
		}
		out, err := w.summarize(ctx, Input{Level: j.Level, Items: items, TargetTokens: max(1, target), Language: lang})
		if err != nil {
			return s, err
		}
		s.Content, s.Producer = out.Content, out.Producer
	}
	s.Tokens = w.tok.Count(s.Content)
	var (
		stored memory.Summary
		err    error
	)
	if j.Kind == Rebuild {
		stored, err = w.store.ReplaceSummary(ctx, t.Tenant, t.Conversation, s)
	} else {
		stored, err = w.store.AddSummary(ctx, t.Tenant, t.Conversation, s)
	}
	if err != nil {
		return s, fmt.Errorf("compaction: write level-%d summary %d-%d of %s: %w", j.Level, j.FromSeq, j.ToSeq, t.Conversation, err)
	}
	w.m.wrote(j.Level, s.Producer)
	return stored, nil
}

// summarize runs the configured summarizer within SummarizeTimeout and
// falls back to the extractive one when it fails or breaks the target.
func (w *Worker) summarize(ctx context.Context, in Input) (Output, error) {
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SummarizeTimeout)
	start := time.Now()
	out, err := w.sum.Summarize(sctx, in)
	cancel()
	w.m.latency.Observe(time.Since(start).Seconds())
	if ctx.Err() != nil {
		return Output{}, ctx.Err()
	}
	if err != nil {
		w.m.failures.WithLabelValues(ReasonError).Inc()
		if w.sum == Summarizer(w.extractive) {
			return Output{}, err
		}
		w.log.Warn("compaction: summarizer failed; using the extractive fallback", "level", in.Level, "err", err)
		return w.extractive.Summarize(ctx, in)
	}
	if out.FallbackReason != "" {
		w.m.failures.WithLabelValues(out.FallbackReason).Inc() // it fell back by itself
	}
	switch {
	case strings.TrimSpace(out.Content) == "":
		w.m.failures.WithLabelValues(ReasonEmpty).Inc()
	case out.Producer != ProducerExtractive && w.tok.Count(out.Content) > in.TargetTokens:
		w.m.failures.WithLabelValues(ReasonTooLong).Inc()
	default:
		return out, nil
	}
	return w.extractive.Summarize(ctx, in)
}

// items turns a job's inputs into summarizer items and totals their tokens.
func (w *Worker) items(j Job) ([]Item, int) {
	var items []Item
	total := 0
	for _, t := range j.Turns {
		items = append(items, Item{Speaker: speakerOf(t.Name, string(t.Role)), From: t.CreatedAt, To: t.CreatedAt,
			FromSeq: t.Seq, ToSeq: t.Seq, Content: t.Content, Tokens: t.Tokens})
		total += t.Tokens
	}
	for _, s := range j.Children {
		n := s.Tokens
		if n <= 0 {
			n = w.tok.Count(s.Content)
		}
		items = append(items, Item{From: s.FromTime, To: s.ToTime, FromSeq: s.FromSeq, ToSeq: s.ToSeq, Content: s.Content, Tokens: n})
		total += n
	}
	return items, total
}

// sample returns up to about 2 KB of the items' text for language detection.
func sample(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		if b.Len() > 2048 {
			break
		}
		b.WriteString(it.Content)
		b.WriteString("\n")
	}
	return b.String()
}
