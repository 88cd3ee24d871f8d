package scenario

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// pgSettingsText is the output of `postgres --describe-config` of
// PostgreSQL 15, first column only, sorted and unique. See doc.go for the
// command that regenerates it.
//
//go:embed pg_settings.txt
var pgSettingsText string

// pgSettings returns the PostgreSQL setting names, lower-cased, sorted.
func pgSettings() []string {
	var names []string
	for _, l := range strings.Split(pgSettingsText, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, strings.ToLower(l))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// knownSettings is pgSettings, computed once.
var knownSettings = pgSettings()

// customSettingRE matches a custom (extension) setting name such as
// auto_explain.log_min_duration.
var customSettingRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)+$`)

// harnessSettings are set by the harness on every node; a scenario may not
// set them.
var harnessSettings = []string{
	"port",
	"listen_addresses",
	"data_directory",
	"hba_file",
	"ident_file",
	"config_file",
	"primary_conninfo",
	"primary_slot_name",
	"unix_socket_directories",
	"cluster_name",
	"synchronous_standby_names",
	"hot_standby",
}

// settingEnums lists the accepted values (compared without case) of the
// settings whose values are checked.
var settingEnums = map[string][]string{
	"synchronous_commit": {"off", "local", "remote_write", "on", "remote_apply"},
	// minimal cannot feed a standby, so it cannot be part of a cluster.
	"wal_level": {"replica", "logical"},
}

// IsHarnessSetting reports whether name (any case) is a setting the harness
// sets itself and a scenario may not.
func IsHarnessSetting(name string) bool {
	return slices.Contains(harnessSettings, strings.ToLower(name))
}

// IsSetting reports whether name (any case) is a PostgreSQL 15 setting or
// a custom setting (a name with a dot, such as
// auto_explain.log_min_duration).
func IsSetting(name string) bool {
	n := strings.ToLower(name)
	if _, ok := slices.BinarySearch(knownSettings, n); ok {
		return true
	}
	return customSettingRE.MatchString(n)
}

// checkSettingName returns what is wrong with a setting name, or "".
func checkSettingName(name string) string {
	n := strings.ToLower(name)
	switch {
	case n == "synchronous_standby_names":
		return fmt.Sprintf("%q is set by the harness; use topology.replicas[].sync, topology.sync_method and topology.sync_count", name)
	case IsHarnessSetting(n):
		return fmt.Sprintf("%q is set by the harness; remove it", name)
	case !IsSetting(n):
		return fmt.Sprintf("%q is not a PostgreSQL 15 setting%s; custom settings need a dot, like auto_explain.log_min_duration", name, didYouMean(n, knownSettings))
	}
	return ""
}

// checkSettingValue returns what is wrong with value for setting name, or "".
func checkSettingValue(name, value string) string {
	n := strings.ToLower(name)
	if strings.ContainsAny(value, "\n\r\x00") {
		return "the value must be one line; write it after the key, or use |- or >- to drop a block's final newline"
	}
	valid, ok := settingEnums[n]
	if !ok {
		return ""
	}
	for _, v := range valid {
		if strings.EqualFold(v, value) {
			return ""
		}
	}
	return fmt.Sprintf("%q is not a valid %s%s; valid: %s", value, n, didYouMean(value, valid), quoteList(valid))
}
