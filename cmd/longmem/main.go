// Command longmem is the long-context memory service for persona chat bots:
// one binary whose subcommands serve the REST API, replay datasets to
// measure memory settings, and check or convert Character Cards. main only
// wires.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// command is one subcommand of longmem.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int
}

// commands are longmem's subcommands, in the order usage lists them.
func commands() []command {
	return []command{
		{"serve", "serve the REST API (embedded storage in ./longmem-data by default)", runServe},
		{"replay", "replay a dataset (LoCoMo, MemDaily) and measure what the contexts recall", runReplay},
		{"card", "check or convert a Character Card (V1/V2/V3 JSON or PNG) or a lorebook (World Info) offline", runCard},
		{"bench", "drive a server on loopback with mixed load; latency, errors, RSS, --verify", runBench},
		{"export", "write conversations and bots as JSONL (streaming, resumable)", runExport},
		{"import", "load a JSONL export into the storage (idempotent, resumable)", runImport},
		{"backup", "copy a serving longmem's embedded store (consistent, online)", runBackup},
		{"restore", "put a backup in place as an embedded store", runRestore},
		{"version", "print the version, commit and Go version of this binary", runVersion},
	}
}

// runVersion is `longmem version`: what the build recorded.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer, _ map[string]string) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintf(stdout, "Usage: longmem version\n\nPrints the module version, the VCS commit and time, and the Go version.\n")
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "longmem version: takes no arguments\n")
		return 2
	}
	fmt.Fprintln(stdout, versionLine())
	return 0
}

// versionLine is "longmem VERSION (commit REV[, modified], TIME) GOVERSION"
// from the build information; (devel) and unknown parts when absent.
func versionLine() string {
	version, rev, at, modified, gov := "(devel)", "unknown", "", false, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.time":
				at = ", " + s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		rev += ", modified"
	}
	return fmt.Sprintf("longmem %s (commit %s%s) %s", version, rev, at, gov)
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "longmem — long-context memory for persona chat bots\n\nUsage:\n  longmem <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show this help, or a command's flags: longmem help serve (or longmem serve --help)")
}

// run executes longmem with args (without the program name) and returns
// the exit code: 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	if len(args) == 0 {
		usage(stderr) // a usage error, like any other missing argument
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "--version", "-version":
		return runVersion(ctx, nil, stdout, stderr, env)
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			usage(stdout)
			return 0
		}
		for _, c := range commands() {
			if c.name == rest[0] {
				return c.run(ctx, []string{"-h"}, stdout, stdout, env)
			}
		}
		fmt.Fprintf(stderr, "longmem: unknown command %q\n\n", rest[0])
		usage(stderr)
		return 2
	}
	for _, c := range commands() {
		if c.name == name {
			// A command's help is asked for, not an error: on stdout, as
			// longmem --help, exit 0.
			for _, a := range rest {
				if a == "--" {
					break
				}
				if isHelp(a) {
					return c.run(ctx, []string{"-h"}, stdout, stdout, env)
				}
			}
			return c.run(ctx, rest, stdout, stderr, env)
		}
	}
	fmt.Fprintf(stderr, "longmem: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// environ is the process environment as a map.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, environ()))
}
