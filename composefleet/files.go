package composefleet

import (
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/orchestrator"
)

// File states in a FileReport.
const (
	FilePlanned    = "planned"     // a dry run: the diff says what a run writes
	FileWritten    = "written"     // before any container was recreated
	FileRestored   = "restored"    // byte for byte, after a failure that upgraded nothing of it
	FilePartlyKept = "partly kept" // after a failure: the upgraded services' lines stay
)

// FileReport is one file's part of a compose upgrade report.
type FileReport struct {
	Path string `json:"path"`
	Diff string `json:"diff"`
	// State is FilePlanned, FileWritten, FileRestored or FilePartlyKept.
	State string `json:"state"`
	// Kept names the upgraded services whose new image stays in the file
	// when State is FilePartlyKept.
	Kept []string `json:"kept,omitempty"`
}

// stepKey names a container of a plan: its host and name.
func stepKey(host, name string) string { return host + " " + name }

// upgradedServices says, per project (in the order of ups), which services
// keep their new image: line after a failed upgrade: those with a new image
// whose every container the plan recreated was upgraded. It returns nil when
// no container was upgraded at all (then every file goes back as it was).
// It is pure.
func upgradedServices(ups []*compose.Upgrade, rep orchestrator.UpgradeReport) [][]string {
	inPlan := map[string]bool{}
	for _, s := range rep.Plan.Steps() {
		inPlan[stepKey(s.Host, s.Container.Name)] = true
	}
	result := map[string]string{} // host + " " + container -> result of its recreate step
	upgraded := false
	for _, r := range rep.Results {
		k := stepKey(r.Step.Host, r.Step.Container.Name)
		if inPlan[k] {
			result[k] = r.Result
			upgraded = upgraded || r.Result == orchestrator.ResultUpgraded
		}
	}
	if !upgraded {
		return nil
	}
	out := make([][]string, len(ups))
	for i, u := range ups {
		for _, s := range u.Services {
			ok := s.NewImage != ""
			for _, n := range s.Containers {
				// Why only the plan's: a container that needed no
				// recreate already runs what the file names.
				if k := stepKey(u.Host, n); inPlan[k] && result[k] != orchestrator.ResultUpgraded {
					ok = false
				}
			}
			if ok {
				out[i] = append(out[i], s.Service)
			}
		}
	}
	return out
}

// settle makes the files say what runs after a failed upgrade: every file
// as it was when nothing was upgraded (byte for byte), otherwise the new
// image: line only for the services upgradedServices keeps and the old one
// for the others. It updates files' states.
func settle(ups []*compose.Upgrade, edits []compose.FileEdit, rep orchestrator.UpgradeReport, files []FileReport) error {
	if len(edits) == 0 {
		return nil
	}
	var keep []compose.FileEdit
	keptBy := map[string][]string{} // file -> services whose new image: line it keeps
	for i, done := range upgradedServices(ups, rep) {
		u := ups[i]
		kept, err := u.EditsFor(done)
		if err != nil {
			return fmt.Errorf("project %s: keep the image: lines of the upgraded services %s: %w; fix the files by hand to name what runs", u.Project.Name, strings.Join(done, ", "), err)
		}
		for _, k := range kept {
			keptBy[k.Path] = append(keptBy[k.Path], done...)
		}
		keep = append(keep, kept...)
	}
	if err := compose.Restore(edits); err != nil {
		return fmt.Errorf("restore the compose files: %w", err)
	}
	if err := compose.Apply(keep); err != nil {
		return fmt.Errorf("write back the image: lines of the services that were upgraded: %w; fix the files by hand to name what runs", err)
	}
	for i := range files {
		files[i].State = FileRestored
		if kept := keptBy[files[i].Path]; len(kept) > 0 {
			files[i].State, files[i].Kept = FilePartlyKept, kept
		}
	}
	return nil
}
