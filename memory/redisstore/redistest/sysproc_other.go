//go:build !linux

package redistest

import "os/exec"

// setPdeathsig is a no-op outside Linux; cleanups stop the servers.
func setPdeathsig(*exec.Cmd) {}
