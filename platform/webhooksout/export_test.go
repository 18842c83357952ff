package webhooksout

// SetJitter fixes the backoff jitter (a fraction in [0, 1)) so a test can predict the schedule.
func SetJitter(s *Service, f func() float64) { s.jitter = f }
