package images

import (
	"strings"

	"github.com/distribution/reference"
)

// Role is the part a container plays in a Tars deployment.
type Role string

// The roles tarsup knows. RoleNone means "not a Tars container": it is left out
// of every listing and plan.
const (
	RoleNone      Role = ""
	RoleFramework Role = "framework"
	RoleNode      Role = "node"
	RoleWeb       Role = "web"
	RoleDB        Role = "db"
	RoleIgnore    Role = "ignore"
)

// RoleLabel is the container (or compose service) label that overrides the role
// detected from the image: tarsup.role=framework|node|web|db|ignore.
const RoleLabel = "tarsup.role"

// byRepository maps the last two path parts of an image repository to a role.
// Why the last two parts: private mirrors prefix the path
// (registry.example.com/mirror/tarscloud/framework) but keep the upstream name.
var byRepository = map[string]Role{
	"tarscloud/framework": RoleFramework,
	"tarscloud/tars":      RoleFramework, // the framework plus language runtimes
	"tarsdocker/tars":     RoleFramework, // the legacy image (DBIP, DBPort, ... variables)
	"tarscloud/tars-node": RoleNode,
	"tarscloud/tarsnode":  RoleNode,
	"tarsdocker/tarsnode": RoleNode,
	"tarscloud/tars-web":  RoleWeb,
	"tarscloud/tarsweb":   RoleWeb,
	"tarsdocker/tarsweb":  RoleWeb,
}

// dbImages are the last path part of database images that count as the Tars
// database when no label says otherwise.
var dbImages = map[string]bool{"mysql": true, "mariadb": true, "percona": true, "percona-server": true, "mysql-server": true}

// RepositoryTail returns the last two path parts of an image reference's
// repository ("tarscloud/framework" for "reg.example.com/mirror/tarscloud/framework:v3").
// A reference that does not parse yields "".
func RepositoryTail(image string) string {
	path := repositoryPath(image)
	if path == "" {
		return ""
	}
	parts := strings.Split(path, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

func repositoryPath(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return reference.Path(named)
}

// RoleOfImage returns the role an image reference implies, or RoleNone.
func RoleOfImage(image string) Role {
	if r, ok := byRepository[RepositoryTail(image)]; ok {
		return r
	}
	path := repositoryPath(image)
	if path == "" {
		return RoleNone
	}
	last := path[strings.LastIndex(path, "/")+1:]
	if dbImages[last] {
		return RoleDB
	}
	return RoleNone
}

// ParseRole reads a tarsup.role label value; ok is false for an unknown value.
func ParseRole(v string) (Role, bool) {
	switch r := Role(strings.ToLower(strings.TrimSpace(v))); r {
	case RoleFramework, RoleNode, RoleWeb, RoleDB, RoleIgnore:
		return r, true
	}
	return RoleNone, false
}

// Classify gives the role of a container or service from its image and labels:
// a valid tarsup.role label wins, otherwise the image decides.
func Classify(image string, labels map[string]string) Role {
	if v, ok := labels[RoleLabel]; ok {
		if r, ok := ParseRole(v); ok {
			return r
		}
	}
	return RoleOfImage(image)
}

// RoleMismatch reports the role an image reference (and, once pulled, the
// image's labels) says it has, when that role is known and is not want: a
// mysql image named as a framework's target, a tars-node image for a
// framework, a framework image for a node. A valid tarsup.role label on the
// image wins over its name, so a private image named oddly passes when its
// label says want. An image that tells no role is no mismatch.
func RoleMismatch(want Role, image string, labels map[string]string) (Role, bool) {
	got := Classify(image, labels)
	return got, got != RoleNone && got != want
}
