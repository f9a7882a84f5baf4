// Copied into the remotedialer package (as zz_rdial_shim_errors_join.go) when the toolchain
// is older than Go 1.20: the one errors.Join call is renamed to rdialJoinErrors.
package remotedialer

import (
	"errors"
	"strings"
)

type rdialJoinedError struct{ errs []error }

func rdialJoinErrors(errs ...error) error {
	j := &rdialJoinedError{}
	for _, e := range errs {
		if e != nil {
			j.errs = append(j.errs, e)
		}
	}
	if len(j.errs) == 0 {
		return nil
	}
	return j
}

func (j *rdialJoinedError) Error() string {
	s := make([]string, len(j.errs))
	for i, e := range j.errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Is lets errors.Is see every joined error, as Go 1.20's Unwrap() []error does.
func (j *rdialJoinedError) Is(target error) bool {
	for _, e := range j.errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}
