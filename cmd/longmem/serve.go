package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/longmem/longmem/api"
	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/memory/redisstore"
	"github.com/longmem/longmem/retrieval"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM/SIGINT.
const shutdownTimeout = 15 * time.Second

// redisConnectTimeout bounds the first PING of the redis backend.
const redisConnectTimeout = 15 * time.Second

// app is a wired longmem process: storage, tokenizer, metrics registry and
// HTTP interface. Subcommands and tests build one with newApp and must
// Close it.
type app struct {
	cfg       Config
	logger    *slog.Logger
	store     memory.Store
	tokenizer retrieval.Tokenizer
	registry  *prometheus.Registry
	recall    *recall
	compactor *compaction.Worker
	api       *api.Server
	bots      bots.Store // persona bots, beside the memory store
}

// newLogger writes text logs at cfg's level to w.
func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// openStore opens the storage backend cfg names.
func openStore(ctx context.Context, cfg StorageConfig, logger *slog.Logger) (memory.Store, error) {
	switch cfg.Backend {
	case backendEmbedded:
		return embedded.Open(embedded.Config{Dir: cfg.Data, Logger: logger.With("component", "embedded")})
	case backendRedis:
		cctx, cancel := context.WithTimeout(ctx, redisConnectTimeout)
		defer cancel()
		return redisstore.New(cctx, cfg.Redis.store())
	}
	return nil, fmt.Errorf("storage: unknown backend %q (want embedded or redis)", cfg.Backend)
}

// newApp validates cfg and builds the process's parts. It opens the store
// (creating the data directory) but listens on nothing.
func newApp(ctx context.Context, cfg Config, logger *slog.Logger) (*app, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := retrieval.NewTokenizer(cfg.Tokenizer)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg.Storage, logger)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		store.Close()
		return nil, err
	}
	rc, err := openRecall(ctx, cfg.Recall, store, tok, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	if err := registerIndexMetrics(reg, rc.index); err != nil {
		rc.index.Close()
		store.Close()
		return nil, err
	}
	worker, err := openCompaction(cfg, store, tok, reg, logger)
	if err != nil {
		rc.index.Close()
		store.Close()
		return nil, err
	}
	bs, err := openBots(ctx, cfg.Storage)
	if err != nil {
		rc.index.Close()
		store.Close()
		return nil, err
	}
	chat, backends, srvRef, err := openChat(cfg, store, bs, rc, tok, logger)
	if err != nil {
		bs.Close()
		rc.index.Close()
		store.Close()
		return nil, err
	}
	srv, err := api.New(cfg.API, api.Deps{
		Store: store, Tokenizer: tok, Logger: logger.With("component", "api"),
		Registerer: reg, Gatherer: reg,
		Indexer:   rc.indexer,
		Assembler: rc.assembler,
		Compactor: worker,
		Bots:      bs,
		Backends:  backends,
		Chat:      chat,
	})
	if err != nil {
		bs.Close()
		rc.index.Close()
		store.Close()
		return nil, err
	}
	*srvRef = srv
	return &app{cfg: cfg, logger: logger, store: store, tokenizer: tok, registry: reg, recall: rc,
		compactor: worker, api: srv, bots: bs}, nil
}

// openChat wires the chat loop: the bots, the assembler, one backend client
// per base URL from cfg.Backend (none configured: chat answers 503 unless a
// bot names its own backend). Its appends notify the API server that
// *srvRef will point at (set before any request is served).
func openChat(cfg Config, store memory.Store, bs bots.Store, rc *recall, tok retrieval.Tokenizer, logger *slog.Logger) (*bots.Chat, *bots.Backends, **api.Server, error) {
	backends, err := bots.NewBackends(cfg.Backend, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	backends.Allow(cfg.Chat.AllowedBackends...)
	srvRef := new(*api.Server)
	chat, err := bots.NewChat(cfg.Chat, bots.ChatDeps{
		Store: store, Bots: bs, Assembler: rc.assembler, Tokenizer: tok, Backends: backends,
		OnAppend: func(tenant, id string, lastSeq int64) { (*srvRef).Appended(tenant, id, lastSeq) },
		Logger:   logger.With("component", "chat"),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return chat, backends, srvRef, nil
}

// Close closes the index and the store, flushing what they buffer.
func (a *app) Close() error {
	return errors.Join(a.recall.index.Close(), a.store.Close(), a.bots.Close())
}

// serveHTTP serves the API on ln, and runs the background indexer and
// compaction worker, until
// ctx ends; then it stops accepting, lets in-flight requests finish (up to
// shutdownTimeout), stops the indexer and returns. It does not close the
// store.
func (a *app) serveHTTP(ctx context.Context, ln net.Listener) error {
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { _ = a.recall.indexer.Run(bgCtx) })
	bg.Go(func() { _ = a.compactor.Run(bgCtx) })
	defer func() {
		stopBackground()
		bg.Wait()
	}()

	hs := &http.Server{
		Handler:           a.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.logger.Info("longmem serving", "addr", ln.Addr().String(), "storage", a.cfg.Storage.Backend,
		"tokenizer", a.tokenizer.Name(), "api_keys", len(a.cfg.API.Keys), "summarizer", summarizerOf(a.cfg),
		"backend_url", backendURLForLog(a.cfg.Backend.BaseURL), "backend_model", a.cfg.Backend.Model)

	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		a.logger.Warn("in-flight requests did not finish in time; closing connections", "error", err)
		err = errors.Join(err, hs.Close())
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// runServe is `longmem serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	f := newServeFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "longmem serve: unexpected arguments %q\n", f.fs.Args())
		f.fs.Usage()
		return 2
	}
	// Before anything can fail: a misspelt variable is often why the
	// configuration is invalid (LONGMEM_API_KEY for LONGMEM_API_KEYS).
	for _, name := range unknownEnv(env) {
		fmt.Fprintf(stderr, "longmem serve: warning: ignoring unknown environment variable %s%s\n", name, didYouMean(name))
	}
	cfg, err := loadConfig(f, env)
	if err != nil {
		fmt.Fprintf(stderr, "longmem serve: %v\n", err)
		return 1
	}
	if f.printConfig {
		out, err := cfg.YAML()
		if err != nil {
			fmt.Fprintf(stderr, "longmem serve: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(out)
		if err := cfg.Validate(); err != nil {
			fmt.Fprintf(stderr, "longmem serve: the configuration is invalid: %v\n", err)
			return 1
		}
		return 0
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		fmt.Fprintf(stderr, "longmem serve: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the server with cfg until SIGINT/SIGTERM or ctx ends.
func serve(ctx context.Context, cfg Config, logw io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := newLogger(cfg, logw)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	err = a.serveHTTP(ctx, ln)
	if cerr := a.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close storage: %w", cerr))
	}
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// backendURLForLog is the inference backend's URL without credentials, or
// "none" (chat then answers 503 no_backend unless a bot names its own).
func backendURLForLog(raw string) string {
	if raw == "" {
		return "none"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
