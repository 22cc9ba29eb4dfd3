package config_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomkeeper/roomkeeper/internal/config"
)

// readmeSetting is one environment variable of a README settings table.
type readmeSetting struct {
	flag     string // the flag column's pattern (a trailing * matches a prefix); "" without that column
	defaults string // the default the row gives it; "" when none
	line     int
}

var (
	codeSpan = regexp.MustCompile("`([^`]*)`")
	envName  = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)
)

// readmeSettings reads every table of README.md whose header starts with
// "| environment |": the environment variables of its first column, the
// flag column (when the table has one) and the default column, whose
// leading code spans, one per variable, are the defaults ("empty: …" and
// prose mean none).
func readmeSettings(t *testing.T) map[string]readmeSetting {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	got := map[string]readmeSetting{}
	var cols []string
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = nil
			continue
		}
		cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "| "), `\|`, "\x00"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if cells[0] == "environment" {
			cols = cells
			continue
		}
		if cols == nil || strings.HasPrefix(cells[0], "---") {
			continue
		}
		row := map[string]string{}
		for j, c := range cols {
			if j < len(cells) {
				row[c] = cells[j]
			}
		}
		var envs []string
		for _, m := range codeSpan.FindAllStringSubmatch(row["environment"], -1) {
			if envName.MatchString(m[1]) {
				envs = append(envs, m[1])
			}
		}
		require.NotEmpty(t, envs, "README.md:%d: a settings row without a variable", i+1)
		var defaults []string
		if d := row["default"]; strings.HasPrefix(d, "`") {
			for _, part := range strings.Split(d, ",") {
				m := codeSpan.FindStringSubmatch(strings.TrimSpace(part))
				if m == nil || !strings.HasPrefix(strings.TrimSpace(part), "`") {
					break
				}
				defaults = append(defaults, m[1])
			}
			require.Len(t, defaults, len(envs), "README.md:%d: one default per variable", i+1)
		}
		flag := strings.Trim(row["flag"], "`")
		for k, env := range envs {
			_, dup := got[env]
			require.False(t, dup, "README.md:%d: %s is in two rows", i+1, env)
			s := readmeSetting{flag: flag, line: i + 1}
			if defaults != nil {
				s.defaults = defaults[k]
			}
			got[env] = s
		}
	}
	return got
}

// TestReadmeSettingsMatchTheConfig: the README's settings tables name every
// setting of the roomkeeper binary (every environment variable of Config but
// the hidden ones) and nothing else, with its flag and its default.
func TestReadmeSettingsMatchTheConfig(t *testing.T) {
	readme := readmeSettings(t)
	require.Greater(t, len(readme), 30, "settings found in README.md")
	typ := reflect.TypeOf(config.Config{})
	inConfig := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		env, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		if _, hidden := f.Tag.Lookup("hidden"); hidden {
			_, documented := readme[env]
			require.False(t, documented, "%s is hidden but in README.md", env)
			continue
		}
		inConfig[env] = true
		s, ok := readme[env]
		if !ok {
			t.Errorf("%s (--%s) is not in README.md's settings tables", env, f.Tag.Get("name"))
			continue
		}
		flag := "--" + f.Tag.Get("name")
		prefix, wildcard := strings.CutSuffix(s.flag, "*")
		switch {
		case s.flag == "":
			// A table without a flag column: the README says the flag is
			// the variable's name in lower case with dashes.
			require.Equal(t, "--"+strings.ReplaceAll(strings.ToLower(env), "_", "-"), flag, "README.md:%d: %s's flag", s.line, env)
		case wildcard:
			require.True(t, strings.HasPrefix(flag, prefix), "README.md:%d: %s's flag is %s, not %s", s.line, env, flag, s.flag)
		default:
			require.Equal(t, flag, s.flag, "README.md:%d: %s's flag", s.line, env)
		}
		require.Equal(t, f.Tag.Get("default"), s.defaults, "README.md:%d: %s's default", s.line, env)
	}
	for env, s := range readme {
		require.True(t, inConfig[env], "README.md:%d: %s is not a setting of internal/config", s.line, env)
	}
}
