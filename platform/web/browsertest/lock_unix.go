//go:build unix

package browsertest

import (
	"os"
	"syscall"
	"testing"
)

// lockInstall holds an exclusive lock on a file in the temp folder until unlock is called.
func lockInstall(t testing.TB) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("browsertest: install lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatalf("browsertest: install lock: %v", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}
