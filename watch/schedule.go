package watch

import (
	"errors"
	"strings"

	"github.com/robfig/cron/v3"
)

// Schedule says when the next refresh is: robfig/cron's Schedule.
type Schedule = cron.Schedule

// ErrNoSchedule says a schedule spec is empty.
var ErrNoSchedule = errors.New("no schedule")

// ParseSchedule reads a cron spec: five fields ("0 3 * * *") or a
// descriptor (@daily, @hourly, "@every 1h"), in local time unless it starts
// with CRON_TZ=Zone.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, ErrNoSchedule
	}
	return cron.ParseStandard(spec)
}
