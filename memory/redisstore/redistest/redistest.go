// Package redistest starts throwaway redis-server processes (a single server
// or a three-master cluster) on free loopback ports for tests.
//
// When redis-server (or redis-cli, for a cluster) is not on PATH the test is
// skipped, unless the environment variable CI is "true": then it fails.
// Processes are killed in tb.Cleanup.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to answer PING, and a
// cluster to report cluster_state:ok. It is a safety net, not an assertion.
const startTimeout = 20 * time.Second

// RequireBinaries skips tb (fails it when CI=true) unless every named program
// is on PATH.
func RequireBinaries(tb testing.TB, names ...string) {
	tb.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("redistest: %s not on PATH (required when CI=true): %v", name, err)
			}
			tb.Skipf("redistest: %s not on PATH: %v", name, err)
		}
	}
}

// StartServer starts a single redis-server on a free loopback port with
// persistence off (no RDB snapshots, no AOF) and returns its "host:port".
// extra arguments are appended to the command line and override the
// defaults, e.g. "--appendonly", "yes", "--appendfsync", "always".
func StartServer(tb testing.TB, extra ...string) string {
	tb.Helper()
	return StartProcess(tb, extra...).Addr
}

// Server is a redis-server process started by StartProcess, for tests that
// make it fail for real: stop it (SIGSTOP), resume it, kill it.
type Server struct {
	Addr string
	cmd  *exec.Cmd
}

// Signal sends sig to the server process (syscall.SIGSTOP, SIGCONT,
// SIGKILL …).
func (s *Server) Signal(tb testing.TB, sig os.Signal) {
	tb.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("redistest: signal %v to redis-server on %s: %v", sig, s.Addr, err)
	}
}

// StartProcess is StartServer returning the process too. A stopped
// process is resumed before it is killed at cleanup.
func StartProcess(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	RequireBinaries(tb, "redis-server")
	return start(tb, false, extra)
}

// StartCluster starts a Redis Cluster of three masters (no replicas) on free
// loopback ports, waits until every node reports cluster_state:ok, and
// returns the nodes' "host:port".
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	RequireBinaries(tb, "redis-server", "redis-cli")
	addrs := make([]string, 3)
	for i := range addrs {
		addrs[i] = start(tb, true, nil).Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		waitClusterOK(ctx, tb, addr)
	}
	return addrs
}

// start launches one redis-server and waits until it answers PING. A port
// taken between probing and binding makes the server exit; then it tries
// again with other ports.
func start(tb testing.TB, cluster bool, extra []string) *Server {
	tb.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		srv, err := startOnce(tb, cluster, extra)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	tb.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

func startOnce(tb testing.TB, cluster bool, extra []string) (*Server, error) {
	dir := tb.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(dir, "redis.log")
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--logfile", logFile,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
	}
	if cluster {
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000",
		)
	}
	args = append(args, extra...)
	cmd := exec.Command("redis-server", args...)
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGCONT) // a SIGSTOPped server
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	for {
		if c.Ping(ctx).Err() == nil {
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("redis-server on %s exited (%v):\n%s", addr, err, lastLines(log, 10))
		case <-ctx.Done():
			stop()
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("redis-server on %s did not answer PING: %w\n%s", addr, ctx.Err(), lastLines(log, 10))
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Cleanup(stop)
	return &Server{Addr: addr, cmd: cmd}, nil
}

func waitClusterOK(ctx context.Context, tb testing.TB, addr string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: cluster node %s not ok: %v %v\n%s", addr, ctx.Err(), err, info)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
