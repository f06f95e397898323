package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of a bench run: it is load on this machine's loopback only, and
// it ends.
const (
	benchMaxClients  = 1024
	benchMaxDuration = 10 * time.Minute
	benchMaxRequests = 10_000_000
	benchTimeout     = 30 * time.Second // one request
	benchRetries     = 3                // of an append, with its key
)

// benchRoutes are the mixed operations, in report order.
var benchRoutes = []string{"append", "context", "chat"}

// benchOptions are longmem bench's flags.
type benchOptions struct {
	server      string
	key         string
	storage     string
	redisAddrs  string
	clients     int
	duration    time.Duration
	maxRequests int
	mix         map[string]int
	verify      bool
	fakeBackend string
	seed        uint64
}

func parseBenchFlags(args []string, stderr io.Writer, env map[string]string) (benchOptions, error) {
	o := benchOptions{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "", "base URL of a running longmem on loopback; empty: start one in this process (on --storage, with a fake inference backend)")
	fs.StringVar(&o.key, "key", env["LONGMEM_BENCH_KEY"], "API key for --server (or LONGMEM_BENCH_KEY)")
	fs.StringVar(&o.storage, "storage", "embedded", "storage of the in-process server: embedded (a temporary directory) or redis")
	fs.StringVar(&o.redisAddrs, "redis-addrs", "127.0.0.1:6379", "Redis of the in-process server with --storage redis (loopback)")
	fs.IntVar(&o.clients, "clients", 8, fmt.Sprintf("concurrent clients, each on its own conversation (1..%d)", benchMaxClients))
	fs.DurationVar(&o.duration, "duration", 10*time.Second, fmt.Sprintf("how long to send requests (at most %s)", benchMaxDuration))
	fs.IntVar(&o.maxRequests, "requests", 1_000_000, fmt.Sprintf("stop after this many requests in all (at most %d)", benchMaxRequests))
	mix := fs.String("mix", "append=70,context=25,chat=5", "weights of the operations: append (one turn, with an Idempotency-Key), context (POST …/context), chat (POST …/chat)")
	fs.BoolVar(&o.verify, "verify", false, "afterwards, read every conversation and check each acknowledged turn is there exactly once (exit 1 if not)")
	fs.StringVar(&o.fakeBackend, "fake-backend", "", "with --server: also serve a fake OpenAI-compatible backend on this loopback address, for a server started with --backend-url http://ADDR")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the clients' operation choices")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: longmem bench [flags]\n\nDrives a longmem server on loopback with N clients mixing appends, context\nassemblies and chats, for a bounded time and count, and prints throughput,\nlatency percentiles per route, errors by status and the server's RSS.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.mix, err = parseMix(*mix); err != nil {
		return o, err
	}
	switch {
	case o.clients < 1 || o.clients > benchMaxClients:
		return o, fmt.Errorf("--clients %d: want 1..%d", o.clients, benchMaxClients)
	case o.duration <= 0 || o.duration > benchMaxDuration:
		return o, fmt.Errorf("--duration %s: want more than 0 and at most %s", o.duration, benchMaxDuration)
	case o.maxRequests < 1 || o.maxRequests > benchMaxRequests:
		return o, fmt.Errorf("--requests %d: want 1..%d", o.maxRequests, benchMaxRequests)
	case o.storage != backendEmbedded && o.storage != backendRedis:
		return o, fmt.Errorf("--storage %q: want embedded or redis", o.storage)
	}
	if o.server != "" {
		if err := requireLoopback(o.server); err != nil {
			return o, fmt.Errorf("--server: %w", err)
		}
	}
	if o.fakeBackend != "" {
		if err := requireLoopback("http://" + o.fakeBackend); err != nil {
			return o, fmt.Errorf("--fake-backend: %w", err)
		}
	}
	for _, a := range strings.Split(o.redisAddrs, ",") {
		if err := requireLoopback("redis://" + strings.TrimSpace(a)); o.storage == backendRedis && err != nil {
			return o, fmt.Errorf("--redis-addrs: %w", err)
		}
	}
	return o, nil
}

// parseMix parses "append=70,context=25,chat=5".
func parseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	total := 0
	for _, item := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(benchRoutes, name) {
			return nil, fmt.Errorf("--mix %q: want append=N,context=N,chat=N with N ≥ 0", s)
		}
		mix[name] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("--mix %q: the weights add up to 0", s)
	}
	return mix, nil
}

// requireLoopback refuses a URL whose host is not a loopback address: the
// bench's load goes nowhere else.
func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not on loopback (127.0.0.1, ::1, localhost): bench load stays on this machine", u.Host)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	o, err := parseBenchFlags(args, stderr, env)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "longmem bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "longmem bench:", err)
		return 1
	}
	res.print(stdout)
	if o.verify && res.verifyErr != nil {
		return 1
	}
	return 0
}

// bench runs the load: it starts what o asks for (an in-process server, a
// fake backend), runs the clients, reads the server's RSS and verifies.
func bench(ctx context.Context, o benchOptions, logw io.Writer) (*benchResult, error) {
	var closers []func()
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	if o.server == "" || o.fakeBackend != "" {
		addr := o.fakeBackend
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		fb, err := startFakeBackend(addr)
		if err != nil {
			return nil, err
		}
		closers = append(closers, fb.close)
		if o.server == "" {
			base, closeServer, err := startBenchServer(ctx, o, fb.url, logw)
			if err != nil {
				return nil, err
			}
			closers = append(closers, closeServer)
			o.server = base
		}
	}
	b := &benchRun{o: o, client: &http.Client{Timeout: benchTimeout}, run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	defer b.client.CloseIdleConnections()
	res := b.drive(ctx)
	res.rss = b.serverRSS(ctx)
	if o.verify {
		res.verifyErr = b.verify(ctx)
		res.verified = true
	}
	return res, nil
}

// startBenchServer serves a longmem in this process on a loopback port, as
// serve would with o's storage (embedded in a temporary directory) and the
// fake backend; the returned func stops it and removes the directory.
func startBenchServer(ctx context.Context, o benchOptions, backendURL string, logw io.Writer) (string, func(), error) {
	cfg := defaultConfig()
	cfg.LogLevel = "error"
	cfg.Storage.Backend = o.storage
	cfg.Backend.BaseURL = backendURL
	cfg.Backend.Model = "bench"
	dir, err := os.MkdirTemp("", "longmem-bench-")
	if err != nil {
		return "", nil, err
	}
	cfg.Storage.Data = dir
	if o.storage == backendRedis {
		cfg.Storage.Redis.Addrs = strings.Split(o.redisAddrs, ",")
		cfg.Storage.Redis.KeyPrefix = "bench" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	logger, err := newLogger(cfg, logw)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	a, err := newApp(sctx, cfg, logger)
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- a.serveHTTP(sctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(logw, "longmem bench: in-process server:", err)
		}
		a.Close()
		os.RemoveAll(dir)
	}, nil
}

// fakeBackend answers every chat completion with one short reply, in the
// OpenAI wire format (a whole completion, also to a stream request).
type fakeBackend struct {
	url string
	srv *http.Server
}

func startFakeBackend(addr string) (*fakeBackend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake backend: %w", err)
	}
	reply := []byte(`{"id":"bench","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"Noted, thank you."},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":4,"total_tokens":5}}`)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	})}
	go func() { _ = srv.Serve(ln) }()
	return &fakeBackend{url: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (f *fakeBackend) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

// benchRun is one run's clients and what they were told.
type benchRun struct {
	o      benchOptions
	client *http.Client
	run    string // marks this run's conversations and turns

	sent  atomic.Int64
	mu    sync.Mutex
	acked map[string][]string // conversation → contents of acknowledged appends
}

func (b *benchRun) conv(client int) string { return fmt.Sprintf("bench-%s-%d", b.run, client) }

// drive runs the clients until the duration or the request count is
// reached, and gathers their measurements.
func (b *benchRun) drive(ctx context.Context) *benchResult {
	b.acked = map[string][]string{}
	ctx, cancel := context.WithTimeout(ctx, b.o.duration)
	defer cancel()
	stats := make([]*benchStats, b.o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range b.o.clients {
		stats[i] = newBenchStats()
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.client1(ctx, i, stats[i])
		}()
	}
	wg.Wait()
	res := &benchResult{elapsed: time.Since(start), clients: b.o.clients, stats: newBenchStats()}
	for _, s := range stats {
		res.stats.merge(s)
	}
	for _, a := range b.acked {
		res.acked += len(a)
	}
	return res
}

// client1 is one client: it creates its conversation, then sends the mix.
func (b *benchRun) client1(ctx context.Context, id int, st *benchStats) {
	conv := b.conv(id)
	if status, _, _ := b.do(ctx, "POST", "/v1/conversations", fmt.Sprintf(`{"id":%q}`, conv), ""); status != http.StatusCreated {
		st.fail("create", status)
		return
	}
	r := rand.New(rand.NewPCG(b.o.seed, uint64(id)))
	total := 0
	for _, w := range b.o.mix {
		total += w
	}
	for n := 0; ctx.Err() == nil && b.sent.Add(1) <= int64(b.o.maxRequests); n++ {
		pick := r.IntN(total)
		route := ""
		for _, name := range benchRoutes {
			if pick < b.o.mix[name] {
				route = name
				break
			}
			pick -= b.o.mix[name]
		}
		switch route {
		case "append":
			b.append1(ctx, conv, fmt.Sprintf("%s-%d-%d", b.run, id, n), st)
		case "context":
			b.timed(ctx, st, "context", "POST", "/v1/conversations/"+conv+"/context",
				`{"message":{"content":"What did I say about the lighthouse keeper's garden?"},"budget_tokens":1024}`, "")
		case "chat":
			b.timed(ctx, st, "chat", "POST", "/v1/conversations/"+conv+"/chat",
				`{"message":{"content":"Any news from the lighthouse?"}}`, "")
		}
	}
}

// append1 appends one marked turn with an Idempotency-Key, retrying with
// the same key after a 5xx or a transport error; a 2xx is an
// acknowledgement --verify checks.
func (b *benchRun) append1(ctx context.Context, conv, key string, st *benchStats) {
	content := fmt.Sprintf("bench %s: the lighthouse keeper planted beans by the north wall.", key)
	body, _ := json.Marshal(map[string]any{"turns": []map[string]string{{"role": "user", "content": content}}})
	for attempt := 0; attempt <= benchRetries; attempt++ {
		status := b.timed(ctx, st, "append", "POST", "/v1/conversations/"+conv+"/turns", string(body), key)
		if status >= 200 && status < 300 {
			b.mu.Lock()
			b.acked[conv] = append(b.acked[conv], content)
			b.mu.Unlock()
			return
		}
		if (status != 0 && status < 500 && status != http.StatusTooManyRequests) || ctx.Err() != nil {
			return
		}
	}
}

// timed sends one request and records its latency under route and its
// status (0: transport error); it returns the status.
func (b *benchRun) timed(ctx context.Context, st *benchStats, route, method, path, body, key string) int {
	t0 := time.Now()
	status, _, err := b.do(ctx, method, path, body, key)
	if err != nil && ctx.Err() != nil {
		return 0 // the run ended during the request: not counted
	}
	st.record(route, status, time.Since(t0))
	return status
}

// do sends one request and reads the whole answer.
func (b *benchRun) do(ctx context.Context, method, path, body, key string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(b.o.server, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.o.key != "" {
		req.Header.Set("Authorization", "Bearer "+b.o.key)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, raw, err
}

// serverRSS reads process_resident_memory_bytes from the server's
// /metrics (0 when it has none).
func (b *benchRun) serverRSS(ctx context.Context) float64 {
	status, raw, err := b.do(ctx, "GET", "/metrics", "", "")
	if err != nil || status != http.StatusOK {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// verify reads every conversation of the run and checks that each
// acknowledged append is there exactly once, and no marked turn twice.
func (b *benchRun) verify(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	var problems []string
	for i := range b.o.clients {
		conv := b.conv(i)
		count := map[string]int{}
		after := int64(0)
		for {
			status, raw, err := b.do(ctx, "GET", fmt.Sprintf("/v1/conversations/%s/turns?after=%d&limit=1000", conv, after), "", "")
			if err != nil || status != http.StatusOK {
				problems = append(problems, fmt.Sprintf("%s: reading turns: status %d %v", conv, status, err))
				break
			}
			var page struct {
				Turns []struct {
					Seq     int64  `json:"seq"`
					Content string `json:"content"`
				} `json:"turns"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				problems = append(problems, fmt.Sprintf("%s: reading turns: %v", conv, err))
				break
			}
			for _, t := range page.Turns {
				if strings.HasPrefix(t.Content, "bench "+b.run+"-") {
					count[t.Content]++
				}
				after = t.Seq
			}
			if len(page.Turns) < 1000 {
				break
			}
		}
		b.mu.Lock()
		acked := b.acked[conv]
		b.mu.Unlock()
		for _, c := range acked {
			if count[c] != 1 {
				problems = append(problems, fmt.Sprintf("%s: acknowledged turn %q is there %d times", conv, c, count[c]))
			}
		}
		for c, n := range count {
			if n > 1 {
				problems = append(problems, fmt.Sprintf("%s: turn %q stored %d times", conv, c, n))
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
		}
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// benchStats are one client's (or the run's) latencies and statuses.
type benchStats struct {
	lat    map[string][]time.Duration // route → latencies of answered requests
	status map[string]map[int]int     // route → status → count (0: transport error)
}

func newBenchStats() *benchStats {
	return &benchStats{lat: map[string][]time.Duration{}, status: map[string]map[int]int{}}
}

func (s *benchStats) record(route string, status int, d time.Duration) {
	if status != 0 {
		s.lat[route] = append(s.lat[route], d)
	}
	if s.status[route] == nil {
		s.status[route] = map[int]int{}
	}
	s.status[route][status]++
}

func (s *benchStats) fail(route string, status int) { s.record(route, status, 0) }

func (s *benchStats) merge(o *benchStats) {
	for r, l := range o.lat {
		s.lat[r] = append(s.lat[r], l...)
	}
	for r, m := range o.status {
		for code, n := range m {
			if s.status[r] == nil {
				s.status[r] = map[int]int{}
			}
			s.status[r][code] += n
		}
	}
}

// benchResult is what a run prints.
type benchResult struct {
	elapsed   time.Duration
	clients   int
	stats     *benchStats
	acked     int
	rss       float64
	verified  bool
	verifyErr error
}

// percentile is the p-th percentile (0 < p ≤ 100) of sorted, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (r *benchResult) print(w io.Writer) {
	fmt.Fprintf(w, "%d clients, %.1fs\n", r.clients, r.elapsed.Seconds())
	fmt.Fprintf(w, "%-8s %9s %9s %9s %9s %9s  %s\n", "route", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "statuses")
	for _, route := range append(slices.Clone(benchRoutes), "create") {
		st := r.stats.status[route]
		if len(st) == 0 {
			continue
		}
		lat := slices.Clone(r.stats.lat[route])
		slices.Sort(lat)
		n := 0
		var codes []string
		for _, code := range slices.Sorted(maps.Keys(st)) {
			n += st[code]
			name := strconv.Itoa(code)
			if code == 0 {
				name = "transport"
			}
			codes = append(codes, fmt.Sprintf("%s:%d", name, st[code]))
		}
		ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
		fmt.Fprintf(w, "%-8s %9d %9.0f %9s %9s %9s  %s\n", route, n, float64(n)/r.elapsed.Seconds(),
			ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99)), strings.Join(codes, " "))
	}
	if r.rss > 0 {
		fmt.Fprintf(w, "server RSS: %.1f MiB\n", r.rss/(1<<20))
	}
	fmt.Fprintf(w, "acknowledged appends: %d\n", r.acked)
	switch {
	case !r.verified:
	case r.verifyErr != nil:
		fmt.Fprintf(w, "verify: FAILED\n%v\n", r.verifyErr)
	default:
		fmt.Fprintf(w, "verify: ok, every acknowledged turn present exactly once\n")
	}
}
