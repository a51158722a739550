package orchestrator

import (
	"context"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// StatusRow is one line of `tarsup status`; its JSON keys are a promise to
// operators' scripts: add, don't rename.
type StatusRow struct {
	Host    string   `json:"host"`
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Slave   bool     `json:"slave"`
	Image   string   `json:"image"`
	ImageID string   `json:"image_id"`
	Digest  string   `json:"digest"`
	Version string   `json:"version"`
	State   string   `json:"state"`
	Health  string   `json:"health"`
	Rebuild bool     `json:"rebuild"`
	IPs     []string `json:"ips"`
	// HealthDetail says why a container is unhealthy (the failed probe).
	HealthDetail string `json:"health_detail,omitempty"`
	// Interrupted marks a container of a swap that a tarsup began and did
	// not finish (killed, rebooted): `tarsup recover` finishes or undoes it.
	Interrupted bool `json:"interrupted"`
	// Note says what an unusual row is: an interrupted upgrade, one under
	// way, or a container under a name tarsup needs that is not tarsup's.
	Note string `json:"note,omitempty"`
	// Update says whether the registry has something newer (plan's Update
	// values: none, digest moved, newer tag vX.Y.Z, unknown, pinned); ""
	// when nothing was looked up (--offline, the database).
	Update string `json:"update"`
	// UpdateDetail says what Update rests on (digests, versions, the
	// failed look-up).
	UpdateDetail string `json:"update_detail,omitempty"`
	// Registration is a node's state in its deployment's
	// db_tars.t_node_info (active, inactive; missing when no row names
	// it; unknown when that database could not be read); empty for
	// non-nodes and nodes of no deployment status found.
	Registration string `json:"registration,omitempty"`
	// RegistrationDetail says why Registration is unknown.
	RegistrationDetail string `json:"registration_detail,omitempty"`
	// LastHeartbeat is that row's last_heartbeat (RFC 3339, UTC).
	LastHeartbeat string `json:"last_heartbeat,omitempty"`
}

// AddRegistration fills the registration columns of status rows: one read
// of the t_node_info of each deployment whose nodes the rows show (through
// one of its frameworks, in parallel), never one per node. The nodes of a
// deployment whose database does not answer are unknown, with why.
func (x *Executor) AddRegistration(ctx context.Context, states []plan.HostState, rows []StatusRow) {
	if x.Nodes == nil {
		return
	}
	shown := map[string]bool{}
	for _, r := range rows {
		shown[r.Host+" "+r.Name] = true
	}
	regs, _ := x.readSources(ctx, plan.StatusSources(states, shown))
	byNode := plan.NodeRegistrations(states, regs)
	for i := range rows {
		r, ok := byNode[rows[i].Host+" "+rows[i].Name]
		if !ok {
			continue
		}
		rows[i].Registration, rows[i].RegistrationDetail = r.State, r.Detail
		if !r.LastHeartbeat.IsZero() {
			rows[i].LastHeartbeat = r.LastHeartbeat.UTC().Format(time.RFC3339)
		}
	}
}

// Notes in status rows.
const (
	NoteInterrupted = "interrupted upgrade, run tarsup recover"
	NoteUnderWay    = "upgrade under way"
	NoteNotTarsups  = "not tarsup's: it holds a name tarsup needs; rename or remove it before upgrading"
	NoteNotASwap    = "tarsup's journal labels, not as a swap of tarsup's leaves them: left alone; see tarsup recover --dry-run"
)

// swapNotes tells, by container ID, which containers of one engine take part
// in an unfinished swap, and which hold a temporary name without being tarsup's.
func swapNotes(s plan.HostState, self owner.Owner, now time.Time) (interrupted map[string]bool, notes map[string]string) {
	list := make([]container.Summary, 0, len(s.Containers))
	for _, c := range s.Containers {
		list = append(list, container.Summary{ID: c.ID, Names: []string{"/" + c.Name}, Labels: c.Labels, Image: c.Image})
	}
	interrupted, notes = map[string]bool{}, map[string]string{}
	for _, j := range plan.FindSwaps(list).Journals {
		note, stuck := NoteInterrupted, true
		switch o, started, ok := j.Owner(); {
		case ok && o.Live(self, started, now):
			note, stuck = NoteUnderWay+" (tarsup "+o.String()+")", false
		case j.Problem != "":
			note, stuck = NoteNotASwap, false
		}
		for _, c := range []*container.Summary{j.NewC, j.OldC} {
			if c != nil {
				interrupted[c.ID], notes[c.ID] = stuck, note
			}
		}
	}
	for _, h := range s.Holders {
		if !h.Tarsup {
			notes[h.ID] = NoteNotTarsups
		}
	}
	return interrupted, notes
}

// Status builds the status rows of every Tars container on every engine,
// probing in parallel; hosts are the engines the states were observed on.
func Status(ctx context.Context, p *health.Prober, hosts []*engine.Host, states []plan.HostState) []StatusRow {
	return StatusOnly(ctx, p, hosts, states, nil)
}

// StatusOnly is Status limited to the containers named in only (every one
// when only is empty): only those are probed. Names that match nothing are
// the caller's to report (plan.StatusScope).
func StatusOnly(ctx context.Context, p *health.Prober, hosts []*engine.Host, states []plan.HostState, only []string) []StatusRow {
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	byName := make(map[string]*engine.Host, len(hosts))
	for _, h := range hosts {
		byName[h.Name()] = h
	}
	var rows []StatusRow
	type job struct {
		h   *engine.Host
		c   plan.Container
		row int
	}
	var jobs []job
	self, now := owner.ThisProcess(), time.Now()
	for _, s := range states {
		interrupted, notes := swapNotes(s, self, now)
		for _, c := range s.Containers {
			if !c.IsTars() || (len(want) > 0 && !want[c.Name]) {
				continue
			}
			rows = append(rows, StatusRow{
				Host: c.Host, Name: c.Name, ID: c.ShortID(), Role: string(c.Role), Slave: c.Slave,
				Image: c.Image, ImageID: plan.Short(c.ImageID), Digest: shortDigest(c.Digest()), Version: c.Version,
				State: c.State, Rebuild: c.Rebuild, IPs: nonNil(c.IPs),
				Interrupted: interrupted[c.ID], Note: notes[c.ID],
			})
			if h := byName[s.Host]; h != nil { // states come from hosts: always
				jobs = append(jobs, job{h: h, c: c, row: len(rows) - 1})
			}
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[j.row].Health, rows[j.row].HealthDetail = p.Health(ctx, j.h, j.c)
		}()
	}
	wg.Wait()
	return rows
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// shortDigest returns "sha256:" and the first 12 hex digits.
func shortDigest(d string) string {
	if d == "" {
		return ""
	}
	return "sha256:" + plan.Short(d)
}
