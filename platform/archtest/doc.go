// Package archtest holds tests that keep the repository's shape: the dependency rule and the deployment files.
package archtest
