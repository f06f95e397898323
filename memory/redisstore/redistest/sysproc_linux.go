package redistest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill the server when the test process dies
// without running its cleanups (a panic or a -timeout).
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
