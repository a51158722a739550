package plan

import (
	"strings"

	"github.com/docker/docker/api/types/container"
)

func NameOf(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}
