// Package report renders what tarsup's commands print: the upgrade report
// (text table or JSON), the status table, the events as they happen. Its
// JSON keys are a promise to operators' scripts (README): add, don't rename.
package report
