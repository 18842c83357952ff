// Package billing holds the money side of Mercato: payments, connected accounts, the ledger,
// settlement, fees and subscriptions, one subpackage each.
package billing
