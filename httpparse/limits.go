package httpparse

// MaxFieldsCap is the size of the fixed field array in [Request]: no limit can
// admit more field lines than this.
const MaxFieldsCap = 64

// Default limits, used for any zero field of [Limits].
const (
	DefaultMaxHeaderBytes = 8 << 10 // request line + field lines + blank line
	DefaultMaxTargetBytes = 4 << 10 // request-target as sent
	DefaultMaxFields      = MaxFieldsCap
)

// requestLineSlack is how many bytes a request line may hold beyond its
// target: a method, two SPs, "HTTP/1.1" and CR. A pending request line longer
// than MaxTargetBytes+requestLineSlack can never become acceptable, so the
// parser answers 414 without waiting for its end.
const requestLineSlack = 64

// maxLimit bounds every limit so offsets fit in an int32.
const maxLimit = 1 << 30

// Limits bounds what one request head may cost. A zero field means its
// default; values are clamped to sane maxima (MaxFields to [MaxFieldsCap]).
type Limits struct {
	// MaxHeaderBytes bounds the whole head: any leading empty lines, the
	// request line, the field lines and the blank line that ends them.
	// Exceeding it in the field section is 431 (RFC 6585 §5); exceeding it
	// within the request line is 414.
	MaxHeaderBytes int
	// MaxTargetBytes bounds the request-target. Exceeding it is 414
	// (RFC 9110 §15.5.15), as is a request line longer than
	// MaxTargetBytes + 64 bytes.
	MaxTargetBytes int
	// MaxFields bounds the number of field lines. Exceeding it is 431.
	MaxFields int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes: DefaultMaxHeaderBytes,
		MaxTargetBytes: DefaultMaxTargetBytes,
		MaxFields:      DefaultMaxFields,
	}
}

// effective returns l with defaults filled in and clamps applied.
func (l Limits) effective() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderBytes > maxLimit {
		l.MaxHeaderBytes = maxLimit
	}
	if l.MaxTargetBytes <= 0 {
		l.MaxTargetBytes = DefaultMaxTargetBytes
	}
	if l.MaxTargetBytes > maxLimit {
		l.MaxTargetBytes = maxLimit
	}
	if l.MaxFields <= 0 || l.MaxFields > MaxFieldsCap {
		l.MaxFields = MaxFieldsCap
	}
	return l
}
