package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/longmem/longmem/memory/embedded"
)

// dataFile is the embedded store's file in its data directory.
const dataFile = "longmem.db"

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	url := fs.String("url", "http://"+defaultAddr, "base URL of the serving longmem")
	out := fs.String("out", "", "file to write the backup to (required; replaced only once the copy is complete and checked)")
	const usage = "Usage: longmem backup --out FILE [--url URL]\n\nCopy the embedded store of a serving longmem (GET /v1/admin/backup: a consistent\nread transaction; the server goes on serving). The admin key comes from\nLONGMEM_ADMIN_KEY. Restore with longmem restore."
	if code := parseCommand(fs, args, usage, stderr, "out"); code >= 0 {
		return code
	}
	n, err := backup(ctx, *url, env["LONGMEM_ADMIN_KEY"], *out)
	if err != nil {
		fmt.Fprintf(stderr, "longmem backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup: %d bytes in %s\n", n, *out)
	return 0
}

// backup downloads the store into out.tmp, syncs and checks it, and renames
// it to out.
func backup(ctx context.Context, base, key, out string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/v1/admin/backup", nil)
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkDataFile(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, os.Rename(tmp, out)
}

// checkDataFile opens a bbolt file read-only and checks its pages: a
// download cut short fails here.
func checkDataFile(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drained: the checker stops when done
			if first == nil {
				first = fmt.Errorf("check %s: %w", path, err)
			}
		}
		return first
	})
}

func runRestore(_ context.Context, args []string, stdout, stderr io.Writer, _ map[string]string) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	in := fs.String("in", "", "backup file from longmem backup (required)")
	data := fs.String("data", defaultData, "embedded storage directory to restore into (not being served)")
	force := fs.Bool("force", false, "replace the directory's existing store")
	const usage = "Usage: longmem restore --in FILE [--data DIR] [--force]\n\nPut a backup in place as the embedded store of DIR (stop the server first)."
	if code := parseCommand(fs, args, usage, stderr, "in"); code >= 0 {
		return code
	}
	if err := restore(*in, *data, *force); err != nil {
		fmt.Fprintf(stderr, "longmem restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", *in, *data)
	return 0
}

// restore checks the backup, makes sure no server holds dir's store, and
// puts a copy of the backup in place atomically (copy, sync, rename).
func restore(in, dir string, force bool) error {
	if err := checkDataFile(in); err != nil {
		return err
	}
	target := filepath.Join(dir, dataFile)
	if _, err := os.Stat(target); err == nil {
		if !force {
			return fmt.Errorf("%s exists: stop the server and pass --force to replace it", target)
		}
		// Opening takes the store's lock: it fails while a server holds it.
		s, err := embedded.Open(embedded.Config{Dir: dir})
		if err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := target + ".restore"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, target)
}
