package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// ServiceHash is Compose v2.40's configuration hash of a service (docker/compose
// v2.40.3 pkg/compose/hash.go ServiceHash): the SHA-256, in hex, of the
// service's JSON without the fields that do not make a container differ
// (build, pull_policy, scale, deploy.replicas, depends_on, profiles).
//
// Why not json.Marshal alone: the JSON is that of the compose-go Compose
// v2.40.3 is built with (v2.9.1), and the compose-go tarsup builds with lays
// the service out in another order and spells two defaults differently
// (a bind's create_host_path, an env_file's required). v2JSON turns one into
// the other.
func ServiceHash(sc types.ServiceConfig) (string, error) {
	sc.Build = nil
	sc.PullPolicy = ""
	sc.Scale = nil
	if sc.Deploy != nil {
		d := *sc.Deploy // Why a copy: the caller's service keeps its replicas.
		d.Replicas = nil
		sc.Deploy = &d
	}
	sc.DependsOn = nil
	sc.Profiles = nil
	raw, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("config hash of service %s: %w", sc.Name, err)
	}
	canon, err := v2JSON(raw)
	if err != nil {
		return "", fmt.Errorf("config hash of service %s: %w", sc.Name, err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// v2ServiceKeys are the JSON keys of compose-go v2.9.1's ServiceConfig in
// the order of its fields, which is the order json.Marshal writes them in.
var v2ServiceKeys = []string{
	"profiles", "annotations", "attach", "build", "develop", "blkio_config", "cap_add", "cap_drop",
	"cgroup_parent", "cgroup", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
	"cpu_rt_runtime", "cpus", "cpuset", "cpu_shares", "command", "configs", "container_name",
	"credential_spec", "depends_on", "deploy", "device_cgroup_rules", "devices", "dns", "dns_opt",
	"dns_search", "dockerfile", "domainname", "entrypoint", "provider", "environment", "env_file",
	"expose", "extends", "external_links", "extra_hosts", "group_add", "gpus", "hostname", "healthcheck",
	"image", "init", "ipc", "isolation", "labels", "label_file", "links", "logging", "log_driver",
	"log_opt", "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "mac_address", "models",
	"net", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
	"platform", "ports", "privileged", "pull_policy", "read_only", "restart", "runtime", "scale",
	"secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal",
	"storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts",
	"volume_driver", "volumes", "volumes_from", "working_dir", "post_start", "pre_stop",
}

// v2JSON rewrites a service's JSON as compose-go v2.9.1 writes it: top-level
// keys in v2ServiceKeys order (keys it does not know left out), a bind's
// create_host_path written when true and left out when false, an env_file
// that is required written as its path alone.
func v2JSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	top, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("service JSON is not an object")
	}
	out := &object{}
	for _, k := range v2ServiceKeys {
		val, ok := top.get(k)
		if !ok {
			continue
		}
		switch k {
		case "volumes":
			for _, vol := range asArray(val) {
				if o, ok := vol.(*object); ok {
					if b, ok := o.get("bind"); ok {
						if bo, ok := b.(*object); ok {
							v2Bind(bo)
						}
					}
				}
			}
		case "env_file":
			arr := asArray(val)
			for i, ef := range arr {
				if o, ok := ef.(*object); ok {
					if _, has := o.get("required"); !has {
						if p, ok := o.get("path"); ok {
							arr[i] = p
						}
					}
				}
			}
		}
		out.set(k, val)
	}
	var buf bytes.Buffer
	if err := writeValue(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// v2Bind turns the newer create_host_path (left out when true) into
// v2.9.1's (a bool, left out when false), keeping the field's place.
func v2Bind(b *object) {
	if v, ok := b.get("create_host_path"); ok {
		if f, ok := v.(bool); ok && !f {
			b.del("create_host_path")
		}
		return
	}
	order := []string{"selinux", "propagation", "create_host_path", "recursive"}
	nb := &object{}
	for _, k := range order {
		if k == "create_host_path" {
			nb.set(k, true)
			continue
		}
		if v, ok := b.get(k); ok {
			nb.set(k, v)
		}
	}
	for i, k := range b.keys {
		if !slices.Contains(order, k) {
			nb.set(k, b.vals[i])
		}
	}
	*b = *nb
}

// object is a JSON object that keeps its keys' order.
type object struct {
	keys []string
	vals []any
}

func (o *object) get(k string) (any, bool) {
	if i := slices.Index(o.keys, k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

func (o *object) set(k string, v any) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys, o.vals = append(o.keys, k), append(o.vals, v)
}

func (o *object) del(k string) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.keys, o.vals = slices.Delete(o.keys, i, i+1), slices.Delete(o.vals, i, i+1)
	}
}

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}

// readValue reads one JSON value: *object, []any, string, json.Number, bool or nil.
func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			_, err := dec.Token() // '}'
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token() // ']'
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// writeValue writes v compactly, as json.Marshal would.
func writeValue(w io.Writer, v any) error {
	switch t := v.(type) {
	case *object:
		io.WriteString(w, "{")
		for i, k := range t.keys {
			if i > 0 {
				io.WriteString(w, ",")
			}
			kb, _ := json.Marshal(k)
			w.Write(kb)
			io.WriteString(w, ":")
			if err := writeValue(w, t.vals[i]); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "}")
		return err
	case []any:
		io.WriteString(w, "[")
		for i, e := range t {
			if i > 0 {
				io.WriteString(w, ",")
			}
			if err := writeValue(w, e); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "]")
		return err
	case json.Number:
		_, err := io.WriteString(w, t.String())
		return err
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
}
