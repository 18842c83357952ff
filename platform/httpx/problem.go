package httpx

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"mercato/platform/fault"
)

// Problem is an RFC 9457 problem+json body. It is the only error shape the API answers with.
type Problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail,omitempty"`
	Instance  string             `json:"instance,omitempty"`
	Code      string             `json:"code,omitempty"`
	RequestID string             `json:"request_id,omitempty"`
	Errors    []fault.FieldError `json:"errors,omitempty"`
}

// Error, GetStatus and ContentType let huma write a Problem as it is.
func (p *Problem) Error() string             { return p.Detail }
func (p *Problem) GetStatus() int            { return p.Status }
func (p *Problem) ContentType(string) string { return ProblemContentType }

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

var statusOfKind = map[fault.Kind]int{
	fault.Internal:        http.StatusInternalServerError,
	fault.Invalid:         http.StatusBadRequest,
	fault.Unauthenticated: http.StatusUnauthorized,
	fault.Forbidden:       http.StatusForbidden,
	fault.NotFound:        http.StatusNotFound,
	fault.Conflict:        http.StatusConflict,
	fault.Unprocessable:   http.StatusUnprocessableEntity,
	fault.TooLarge:        http.StatusRequestEntityTooLarge,
	fault.RateLimited:     http.StatusTooManyRequests,
	fault.Unavailable:     http.StatusServiceUnavailable,
}

// StatusOf is the HTTP status of a kind of domain error: the one mapping the API's problems
// and the portals' HTML error pages share.
func StatusOf(k fault.Kind) int {
	if st, ok := statusOfKind[k]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// problemFor maps any error to the problem the client sees. Domain errors keep their message;
// Fiber's own errors (404 route, 405, 413) keep theirs; everything else is "internal error",
// and internal reports whether the cause must be logged.
func problemFor(err error, requestID string) (p *Problem, internal bool) {
	p = &Problem{Type: "about:blank", RequestID: requestID}
	var fe *fiber.Error
	var hp *Problem
	switch de := fault.As(err); {
	case errors.As(err, &hp):
		cp := *hp
		cp.RequestID = requestID
		return &cp, cp.Status >= 500
	case de != nil && de.Kind != fault.Internal:
		p.Status = statusOfKind[de.Kind]
		p.Detail = de.Message
		p.Code = de.Code
		p.Errors = de.Fields
		if de.Code != "" {
			p.Type = "urn:mercato:problem:" + de.Code
		}
	case errors.As(err, &fe) && fe.Code < 500:
		p.Status = fe.Code
		p.Detail = fe.Message
	default:
		p.Status = http.StatusInternalServerError
		p.Detail = "internal error; quote the request id when you report it"
		internal = true
	}
	p.Title = http.StatusText(p.Status)
	return p, internal
}
