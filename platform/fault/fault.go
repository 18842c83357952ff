// Package fault is the vocabulary slices use to declare their errors: a kind the HTTP layer
// maps to a status, a stable code for clients, and a message safe to show them.
package fault

import (
	"errors"
	"sort"
)

// Kind says what went wrong from the caller's point of view.
type Kind int

// The kinds; platform/httpx maps each to one HTTP status.
const (
	Internal        Kind = iota // 500: never shown in detail
	Invalid                     // 400: the request is malformed or a field is wrong
	Unauthenticated             // 401
	Forbidden                   // 403: known caller, not allowed (for other tenants' things use NotFound)
	NotFound                    // 404: absent, or not the caller's to see
	Conflict                    // 409: the state does not allow it (duplicate, wrong transition)
	Unprocessable               // 422: understood but refused (idempotency key reuse, rule violation)
	TooLarge                    // 413
	RateLimited                 // 429
	Unavailable                 // 503: a dependency is down; retry later
)

// Error is a domain error. Declare them once per slice as package variables, so callers can
// test with errors.Is, and wrap with context: fmt.Errorf("reserve stock: %w", ErrOutOfStock).
type Error struct {
	Kind    Kind
	Code    string       // stable, snake_case: "insufficient_stock"
	Message string       // one sentence for the client
	Fields  []FieldError // for Invalid: which inputs are wrong
}

// FieldError names one bad input: Location is "body.email", "query.limit", "path.id".
type FieldError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// New declares a domain error.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Fields is an Invalid error listing each bad input and why, in a stable order.
func Fields(byLocation map[string]string) *Error {
	e := &Error{Kind: Invalid, Code: "invalid_input", Message: "some inputs are not valid"}
	for loc, msg := range byLocation {
		e.Fields = append(e.Fields, FieldError{Location: loc, Message: msg})
	}
	sort.Slice(e.Fields, func(i, j int) bool { return e.Fields[i].Location < e.Fields[j].Location })
	return e
}

// As returns the domain error inside err, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
