package plan

import (
	"strings"

	"github.com/docker/docker/api/types/container"
)

// NameOf is a listed container's name without the leading "/" (its ID when
// it has none).
func NameOf(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}
