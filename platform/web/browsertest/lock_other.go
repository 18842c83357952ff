//go:build !unix

package browsertest

import "testing"

// lockInstall is a no-op where apt-get does not exist anyway.
func lockInstall(testing.TB) (unlock func()) { return func() {} }
