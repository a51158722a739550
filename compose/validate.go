package compose

import (
	"fmt"

	"github.com/tarsup/tarsup/images"
)

// Severity says whether a Finding stops an upgrade.
type Severity int

// The severities.
const (
	// SeverityError stops the upgrade (callers exit 3).
	SeverityError Severity = iota + 1
	// SeverityWarning is printed and the upgrade goes on.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// The rules Validate checks, as they appear in Finding.Rule.
const (
	// RuleRebuild is REBUILD=true in a framework service, which wipes the Tars databases.
	RuleRebuild = "rebuild-true"
	// RuleWebAlone is a web service without a framework: tarsweb must not be upgraded alone.
	RuleWebAlone = "web-alone"
	// RuleStaticIP is a framework or node on a bridge network without a fixed address.
	RuleStaticIP = "static-ip"
)

// Finding is one problem Validate found in a project.
type Finding struct {
	// File is the file to fix: the compose file, or the env file that sets
	// the variable at fault.
	File string
	// Service is the service concerned.
	Service string
	// Severity says whether the finding stops the upgrade.
	Severity Severity
	// Rule is one of the Rule* constants.
	Rule string
	// Message says what is wrong, why it matters and how to fix it.
	Message string
}

// String formats a finding as "error: FILE: service NAME: MESSAGE".
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: service %s: %s", f.Severity, f.File, f.Service, f.Message)
}

// HasErrors reports whether any finding is an error.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// rebuildDrops are the databases the framework image drops and recreates
// when REBUILD=true (TarsFramework deploy/tars-install.sh).
const rebuildDrops = "db_tars, tars_stat, tars_property, db_tars_web, db_user_system, db_cache_web"

// Validate checks a project against the Tars rules that an upgrade must not
// break, in service order. It does no I/O: Load read everything it needs.
func Validate(p *Project) []Finding {
	var findings []Finding
	hasFramework := false
	for _, s := range p.Services {
		if s.Role == images.RoleFramework {
			hasFramework = true
		}
	}
	for _, s := range p.Services {
		findings = append(findings, checkRebuild(s)...)
		if s.Role == images.RoleWeb && !hasFramework {
			findings = append(findings, Finding{
				File: s.File, Service: s.Name, Severity: SeverityError, Rule: RuleWebAlone,
				Message: "tarsweb alone: the project has a web service but no framework service, and the Tars docs forbid upgrading tarsweb without the framework it belongs to; " +
					"upgrade the project that holds the framework, or add the framework service to this one",
			})
		}
		findings = append(findings, checkStaticIP(s)...)
	}
	return findings
}

// checkRebuild finds REBUILD=true in a framework service. Exactly "true":
// the image's scripts compare the string, so "True" or "1" do nothing.
func checkRebuild(s Service) []Finding {
	if s.Role != images.RoleFramework || s.Environment["REBUILD"] != "true" {
		return nil
	}
	file := s.envFrom["REBUILD"]
	if file == "" {
		file = s.File
	}
	where := "in its environment"
	if file != s.File {
		where = fmt.Sprintf("through env_file %s (service defined in %s)", file, s.File)
	}
	return []Finding{{
		File: file, Service: s.Name, Severity: SeverityError, Rule: RuleRebuild,
		Message: fmt.Sprintf("REBUILD=true %s: on start the framework drops and recreates %s, so every deployed service, config and user is gone; "+
			"set REBUILD=false (or remove it) in %s before upgrading", where, rebuildDrops, file),
	}}
}

// checkStaticIP warns about a framework or node without a fixed address on a
// bridge network.
func checkStaticIP(s Service) []Finding {
	if s.Role != images.RoleFramework && s.Role != images.RoleNode {
		return nil
	}
	var findings []Finding
	for _, n := range s.Networks {
		if !n.Bridge || n.IPv4Address != "" {
			continue
		}
		findings = append(findings, Finding{
			File: s.File, Service: s.Name, Severity: SeverityWarning, Rule: RuleStaticIP,
			Message: fmt.Sprintf("no ipv4_address on bridge network %q: Tars records the %s's IP in t_node_info, and a recreated container may get another address, which breaks its registration; "+
				"set networks.%s.ipv4_address for the service (or use network_mode: host)", n.Name, s.Role, n.Name),
		})
	}
	return findings
}
