package devservices

import "syscall"

// serverAttr puts a detached server in its own session so it outlives the caller, and an
// attached one in its own process group (a terminal's Ctrl-C reaches only `mercato dev`, which
// stops it in order) with a parent-death signal so it cannot outlive a crashed caller.
func serverAttr(detached bool) *syscall.SysProcAttr {
	if detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
