package backup

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// prune removes the oldest snapshots of deployment in dir beyond the keep
// newest (0 keeps every one): the dump and its manifest. Only snapshots
// whose manifest names that very deployment are counted or removed; any
// other file stays. It returns the dumps removed.
func prune(dir, deployment string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type snap struct {
		manifest string
		m        Manifest
	}
	var mine []snap
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ManifestSuffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		mp := filepath.Join(dir, e.Name())
		m, err := ReadManifest(mp)
		if err != nil || m.Deployment != deployment {
			continue
		}
		mine = append(mine, snap{mp, m})
	}
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].m.Time.Equal(mine[j].m.Time) {
			return mine[i].m.Time.After(mine[j].m.Time)
		}
		return mine[i].m.File > mine[j].m.File
	})
	var removed []string
	for _, s := range mine[min(keep, len(mine)):] {
		dump := filepath.Join(dir, filepath.Base(s.m.File))
		if err := os.Remove(dump); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		if err := os.Remove(s.manifest); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, dump)
	}
	return removed, nil
}
