package orders

import (
	"errors"
	"net/http"
	"testing"

	"mercato/platform/fault"
	"mercato/platform/httpx"
)

// The state machine, every from × to: the allowed pairs are exactly these, and every other
// pair is ErrTransition, which the API answers 409.
func TestTransitionTable(t *testing.T) {
	allowed := map[[2]string]bool{
		{StatusPendingPayment, StatusPaid}:          true,
		{StatusPendingPayment, StatusCancelled}:     true,
		{StatusPaid, StatusPartiallyFulfilled}:      true,
		{StatusPaid, StatusFulfilled}:               true,
		{StatusPaid, StatusRefunded}:                true,
		{StatusPartiallyFulfilled, StatusFulfilled}: true,
		{StatusPartiallyFulfilled, StatusRefunded}:  true,
		{StatusFulfilled, StatusCompleted}:          true,
		{StatusFulfilled, StatusRefunded}:           true,
		{StatusCompleted, StatusRefunded}:           true,
	}
	statuses := append(Statuses(), "", "shipped")
	checked, refused := 0, 0
	for _, from := range statuses {
		for _, to := range statuses {
			checked++
			err := checkTransition(from, to)
			if allowed[[2]string{from, to}] {
				if err != nil || !CanTransition(from, to) {
					t.Errorf("%q → %q refused: %v", from, to, err)
				}
				continue
			}
			refused++
			fe := fault.As(err)
			if !errors.Is(err, ErrTransition) || fe == nil || httpx.StatusOf(fe.Kind) != http.StatusConflict || CanTransition(from, to) {
				t.Errorf("%q → %q: %v, want ErrTransition (409)", from, to, err)
			}
		}
	}
	if checked != 81 || refused != 71 {
		t.Errorf("checked %d pairs, refused %d; want 81 and 71", checked, refused)
	}
}

// An order is as far along as its least advanced live merchant order.
func TestDerivedStatus(t *testing.T) {
	for _, tc := range []struct {
		merchants []string
		want      string
	}{
		{[]string{StatusPaid, StatusPaid}, StatusPaid},
		{[]string{StatusPaid, StatusFulfilled}, StatusPartiallyFulfilled},
		{[]string{StatusPartiallyFulfilled, StatusPaid}, StatusPartiallyFulfilled},
		{[]string{StatusFulfilled, StatusFulfilled}, StatusFulfilled},
		{[]string{StatusFulfilled, StatusCompleted}, StatusFulfilled},
		{[]string{StatusCompleted, StatusCompleted}, StatusCompleted},
		{[]string{StatusCompleted, StatusRefunded}, StatusCompleted},
		{[]string{StatusCancelled, StatusCancelled}, StatusCancelled},
		{[]string{StatusRefunded}, StatusRefunded},
		{nil, ""},
	} {
		if got := derived(tc.merchants); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.merchants, got, tc.want)
		}
	}
}
