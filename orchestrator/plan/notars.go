package plan

import (
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/images"
)

// NoTarsFound is the message of a run that found no Tars container (of
// scope, when not "") on engines: it names them and says how tarsup
// recognises a Tars container. Why: "nothing to do" on the wrong engine, or
// on a deployment whose images tarsup does not recognise, reads as success.
func NoTarsFound(engines []string, scope string) string {
	on := "any engine"
	if len(engines) > 0 {
		on = strings.Join(engines, ", ")
	}
	if scope != "" {
		scope = " of " + scope
	}
	return fmt.Sprintf("no Tars container%s found on %s: tarsup recognises framework, node and web containers by their image "+
		"(tarscloud/framework, tarscloud/tars, tarsdocker/tars, tarscloud/tars-node, tarscloud/tars-web, also under a mirror's path) "+
		"or by the label %s=framework|node|web; `tarsup status` lists what it recognises (is --host the right engine?)", scope, on, images.RoleLabel)
}
