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
		{"card", "check or convert a Character Card (V1/V2/V3 JSON or PNG) offline", runCard},
		{"bench", "drive a server on loopback with mixed load; latency, errors, RSS, --verify", runBench},
		{"export", "write conversations and bots as JSONL (streaming, resumable)", runExport},
		{"import", "load a JSONL export into the storage (idempotent, resumable)", runImport},
		{"backup", "copy a serving longmem's embedded store (consistent, online)", runBackup},
		{"restore", "put a backup in place as an embedded store", runRestore},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "longmem — long-context memory for persona chat bots\n\nUsage:\n  longmem <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show this help, or a command's flags: longmem help serve")
}

// run executes longmem with args (without the program name) and returns
// the exit code: 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	switch name {
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
