// Package disktest gives tests a real disk that fills: a small tmpfs
// mounted for the test (Linux, as root), so that "no space left on device"
// happens for real instead of being simulated.
package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Small mounts a tmpfs of size bytes on a new temporary directory and
// returns the directory; it is unmounted at cleanup (register the cleanup
// of whatever uses the directory after calling Small, so it runs first).
// Without root, or where mounting is not permitted (a container without
// CAP_SYS_ADMIN), the test is skipped with the reason.
func Small(tb testing.TB, size int64) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("disktest: a full disk needs a tmpfs mount, which needs root; run the tests as root (CI does)")
	}
	dir := filepath.Join(tb.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		tb.Fatalf("disktest: %v", err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		tb.Skipf("disktest: mount a %d-byte tmpfs on %s: %v: %s (no permission to mount here)", size, dir, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("disktest: umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file of n bytes into dir (to be deleted later to free the
// space again) and returns its path.
func Fill(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	if err := os.WriteFile(path, make([]byte, n), 0o600); err != nil {
		tb.Fatalf("disktest: write %d bytes of filler: %v", n, err)
	}
	return path
}
