package plan

import (
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/images"
)

// movedLines renders a check for comparison as a string.
func movedLines(c RefreshCheck) string {
	var b strings.Builder
	b.WriteString(c.Summary() + "\n")
	for _, m := range c.Moved {
		b.WriteString(m.Line(true) + "\n")
	}
	for _, u := range c.Unchecked {
		fmt.Fprintf(&b, "unchecked %s: %s\n", u.Name, u.Reason)
	}
	return b.String()
}

func ok(ref, digest string) images.DigestResult {
	r, err := images.Parse(ref)
	if err != nil {
		panic(err)
	}
	return images.DigestResult{Ref: r, Digest: digest}
}
